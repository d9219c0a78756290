#!/usr/bin/env bash
# make demo: a local fleet of three systemd containers (one edge, two model servers), the
# collection's site.yml against it, and a prediction fetched over HTTPS through the edge.
# make demo-destroy: remove the fleet.
# TF Serving comes from its official apt repository when that is reachable; otherwise the
# TEST STAND-IN is installed from a local signed repository (said plainly below).
# DEMO_TFSERVING_SOURCE=official|standin skips the reachability check.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
# The demo inventory's connection: podman exec with pipelining (test harness, not the collection's).
export ANSIBLE_CONNECTION_PLUGINS=$root/molecule/shared/connection_plugins
demo_start=$(date +%s)
phase() { echo; echo "=== make demo [$(( $(date +%s) - demo_start )) s]: $*"; }
image=${DEMO_IMAGE:-localhost/lts-debian12-systemd}
network=lts-demo
port=${DEMO_HTTPS_PORT:-8443}
hosts=(lts-demo-edge1 lts-demo-tfs1 lts-demo-tfs2)
inventory=inventories/demo/hosts.yml
url="https://127.0.0.1:$port/v1/models/half_plus_two:predict"
# The edge's certificate comes from the fleet CA the play creates on this machine (internal_ca,
# the default source); the demo keeps that CA in .cache/demo-ca instead of playbooks/pki.
ca_dir=$root/.cache/demo-ca
# What the last successful prepare step was run for (the containers as started, the TF Serving
# source and the stand-in repository's tarball): a re-run on the same fleet skips that step when
# none of them changed.
prepared=$root/.cache/demo-prepared
predict=(curl -sS --fail --cacert "$ca_dir/ca.pem" --resolve "localhost:$port:127.0.0.1"
         -d '{"instances": [1.0, 2.0, 5.0]}' "https://localhost:$port/v1/models/half_plus_two:predict")

down() {
  # The hosts' cached facts go with them: a new fleet gets new addresses (ansible.cfg caches facts).
  for h in "${hosts[@]}"; do podman rm -f -t 5 "$h" >/dev/null 2>&1 || true; rm -f "$root/.cache/facts/$h" "$root/.cache/facts/"s[0-9]*_"$h"; done
  rm -f "$prepared"
  podman network rm "$network" >/dev/null 2>&1 || true
  echo "demo fleet removed"
}

source_choice() {
  case "${DEMO_TFSERVING_SOURCE:-auto}" in
    official|standin) echo "$DEMO_TFSERVING_SOURCE"; return ;;
  esac
  # Name lookup first: on a closed network no connection is attempted at all.
  if getent hosts storage.googleapis.com >/dev/null 2>&1 &&
     curl -sfI -m 10 https://storage.googleapis.com/tensorflow-serving-apt/dists/stable/Release >/dev/null 2>&1; then
    echo official
  else
    echo standin
  fi
}

up() {
  phase "1/4 starting the fleet's containers (${hosts[*]})"
  podman network exists "$network" || podman network create "$network" >/dev/null
  for h in "${hosts[@]}"; do
    if ! podman container exists "$h"; then
      rm -f "$root/.cache/facts/$h" "$root/.cache/facts/"s[0-9]*_"$h"  # facts cached for an earlier container of that name are stale
      rm -f "$prepared"  # a new container needs its package lists
      edge_opts=()
      # The edge sets net.ipv4 sysctls for its remote backends (lighttpd_sysctl_enabled): they
      # are per network namespace, so only this container's are writable.
      [ "$h" = lts-demo-edge1 ] && edge_opts=(-p "127.0.0.1:$port:443" --security-opt unmask=/proc/sys)
      podman run -d --name "$h" --hostname "$h" --network "$network" --systemd always \
        --cap-add SYS_ADMIN --cap-add NET_ADMIN "${edge_opts[@]}" "$image" /sbin/init >/dev/null
    fi
  done
  extra=(-e "edge_certificate_ca_dir=$ca_dir")
  source=$(source_choice)
  if [ "$source" = standin ]; then
    echo "NOTE: TF Serving's official apt repository is not reachable from here: installing the"
    echo "      TEST STAND-IN for tensorflow_model_server from a local signed apt repository"
    echo "      (tests/standin/; it evaluates only half_plus_two). With the real repository"
    echo "      reachable, the same demo installs the real TF Serving and serves the same model."
    extra+=(-e "tfserving_apt_repo_url=http://lts-demo-edge1:8080"
           -e "tfserving_apt_key_url=http://lts-demo-edge1:8080/tensorflow-serving.release.pub.gpg")
    # The edge serves the stand-in's repository (the standin_repo group of prepare.yml).
    printf 'standin_repo:\n  hosts:\n    lts-demo-edge1:\n' > .cache/demo-standin.yml
    prepare_inventory=(-i .cache/demo-standin.yml)
  else
    echo "Installing TF Serving from its official apt repository."
    prepare_inventory=()
  fi
  # Fresh package lists, and (stand-in only) the local repository served from the edge.
  phase "2/4 package lists$([ ${#prepare_inventory[@]} -gt 0 ] && echo ' and the stand-in repository')"
  # The containers' start times count: a restarted edge no longer serves the stand-in's repository.
  want="$source $(podman inspect -f '{{.Id}} {{.State.StartedAt}}' "${hosts[@]}" | sha256sum | cut -c1-16)"
  [ "$source" = standin ] && want="$want $(sha256sum .cache/standin-repo.tar | cut -c1-16)"
  if [ -f "$prepared" ] && [ "$(cat "$prepared")" = "$want" ]; then
    echo "already done for these containers and this repository (.cache/demo-prepared)"
  else
    ansible-playbook -i "$inventory" "${prepare_inventory[@]}" molecule/shared/prepare.yml \
      -e "standin_repo_dir=$root/.cache/standin-repo standin_repo_port=8080" | tee .cache/demo-prepare.log \
      | grep --line-buffered -E '^(PLAY|TASK) \[|^(fatal|failed)|^\S+ +: ok='
    echo "$want" > "$prepared"
  fi
  phase "3/4 playbooks/site.yml: model servers, then the edge (full log: .cache/demo-site.log)"
  start=$(date +%s)
  ansible-playbook -i "$inventory" playbooks/site.yml "${extra[@]}" | tee .cache/demo-site.log \
    | grep --line-buffered -E '^(PLAY|TASK) \[|^(fatal|failed)|^\S+ +: ok=|^ +msg: |^changed: '
  echo "site.yml took $(( $(date +%s) - start )) s"
  phase "4/4 a prediction through the edge"
  echo
  echo "The edge's certificate is issued by the fleet CA $ca_dir/ca.pem (clients trust that file)."
  echo "Prediction over HTTPS through the edge ($url):"
  "${predict[@]}"
  echo
  echo "Repeat it:  curl --cacert .cache/demo-ca/ca.pem --resolve localhost:$port:127.0.0.1 \\"
  echo "              -d '{\"instances\": [1.0, 2.0, 5.0]}' https://localhost:$port/v1/models/half_plus_two:predict"
  echo "Tear down:  make demo-destroy"
  echo "make demo took $(( $(date +%s) - demo_start )) s"
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) echo "usage: demo.sh up|down" >&2; exit 2 ;;
esac
