// Test fixture of lighttpd_tensorflow.serving, never installed by the collection: a real
// OpenID Provider for the lighttpd scenario's access-token tests (molecule/lighttpd/oidc-provider.yml).
// oidc-provider (https://github.com/panva/node-oidc-provider, OpenID Certified) issues JWT
// access tokens (RFC 9068) with the client-credentials grant, signed with the first key of
// KEYS_FILE whose type fits the algorithm; it publishes every key of that file in its JWKS.
//
//   node server.mjs serve CONFIG          serve over HTTPS (CONFIG: issuer, port, cert, key,
//                                         keys_file, audience, ttl, alg, scopes, clients)
//   node server.mjs add-key KEYS_FILE ALG put a new signing key (RS256 or ES256) first
//   node server.mjs keep-first KEYS_FILE  drop every key but the first (the old keys retire)
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import Provider, { errors } from 'oidc-provider';

const [command, file, alg] = process.argv.slice(2);

function readKeys(path) {
  return fs.existsSync(path) ? JSON.parse(fs.readFileSync(path, 'utf8')).keys : [];
}

function writeKeys(path, keys) {
  fs.writeFileSync(`${path}.tmp`, JSON.stringify({ keys }, null, 1), { mode: 0o600 });
  fs.renameSync(`${path}.tmp`, path);
}

if (command === 'add-key') {
  const pair = alg === 'ES256'
    ? crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...pair.privateKey.export({ format: 'jwk' }), alg, use: 'sig' };
  jwk.kid = `${alg.toLowerCase()}-${crypto.randomBytes(6).toString('hex')}`;
  writeKeys(file, [jwk, ...readKeys(file)]);
  console.log(jwk.kid);
} else if (command === 'keep-first') {
  writeKeys(file, readKeys(file).slice(0, 1));
} else if (command === 'serve') {
  const config = JSON.parse(fs.readFileSync(file, 'utf8'));
  const signingAlg = readKeys(config.keys_file)[0].alg;
  const provider = new Provider(config.issuer, {
    clients: config.clients.map((client) => ({
      client_id: client.client_id,
      client_secret: client.client_secret,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      scope: client.scope,
      id_token_signed_response_alg: signingAlg,  // the client's ID tokens too (a key of it must exist)
    })),
    jwks: { keys: readKeys(config.keys_file) },
    scopes: ['openid', ...config.scopes],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => config.audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource) => {
          if (resource !== config.audience) throw new errors.InvalidTarget();
          return {
            scope: config.scopes.join(' '),
            audience: config.audience,
            accessTokenTTL: config.ttl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: signingAlg } },
          };
        },
      },
    },
  });
  const server = https.createServer({
    cert: fs.readFileSync(config.cert),
    key: fs.readFileSync(config.key),
  }, provider.callback());
  server.listen(config.port, () => console.log(`OpenID Provider ${config.issuer} on port ${config.port}`));
} else {
  console.error('usage: server.mjs serve CONFIG | add-key KEYS_FILE ALG | keep-first KEYS_FILE');
  process.exit(2);
}
