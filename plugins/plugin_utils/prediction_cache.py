# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)
"""The edge's prediction cache: which requests it may answer, and from which model version.

A cached answer is keyed by the version that produced it, never by the URL the client used.
The edge resolves each cacheable request (no version, a label, or an explicit version) to one
version with the same model list the tfserving role deploys (tfserving_models), and fetches
a miss from that explicit version (/v1/models/M/versions/V:VERB). An entry therefore always
holds that version's answer, whatever a roll-out does meanwhile; a roll-out only changes which
entries new requests look up (docs/architecture.md, "Prediction cache").
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

CACHE_ROUTES = ("predict", "classify", "regress")
_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")
# Labels the edge can match in a URL path and write into VCL (TF Serving allows more).
_LABEL = re.compile(r"^[A-Za-z0-9_.-]{1,128}\Z")


def cache_models_valid(value):
    """edge_cache_models: a list of {model: NAME, routes: [predict|classify|regress, ...]}."""
    if not isinstance(value, list):
        return False
    names = []
    for entry in value:
        if not isinstance(entry, dict) or set(entry) - {"model", "routes"}:
            return False
        if not (isinstance(entry.get("model"), str) and _MODEL.match(entry["model"])):
            return False
        routes = entry.get("routes", ["predict"])
        if not (isinstance(routes, list) and routes and all(isinstance(r, str) and r in CACHE_ROUTES for r in routes)):
            return False
        names.append(entry["model"])
    return len(set(names)) == len(names)


_DIGEST = re.compile(r"^[0-9a-f]{64}\Z")


def version_dirs(models, model_dir, names=None):
    """[{name, version, path}] for each declared version of MODELS (a tfserving_models list), its
    directory as the tfserving role deploys it (base_path, default MODEL_DIR/NAME, then the
    version). NAMES: only these models."""
    out = []
    for model in models or []:
        if not isinstance(model, dict) or (names is not None and model.get("name") not in names):
            continue
        base = model.get("base_path") or "%s/%s" % (model_dir, model.get("name"))
        for version in model.get("versions") or []:
            out.append({"name": model["name"], "version": int(version["version"]),
                        "path": "%s/%s" % (base, version["version"])})
    return out


def digest_agreement(reports):
    """What the model servers' recorded content digests say of each (model, version).

    ``reports`` is one entry per model server that answered: {server, digests}, digests being the
    model_digests module's list ({name, version, deployed, digest}). Returns (agreed, disagreed):
    agreed maps (name, version) to the one digest of a version every model server that has it
    deployed recorded alike; disagreed maps the others to a reason. A version some server has
    deployed without a digest (or with a malformed one) is not agreed: its files are unknown.
    """
    seen, unknown = {}, {}
    for report in reports or []:
        if not isinstance(report, dict):
            continue
        for entry in report.get("digests") or []:
            if not isinstance(entry, dict) or not entry.get("deployed"):
                continue
            key = (entry.get("name"), int(entry.get("version")))
            digest = entry.get("digest")
            if isinstance(digest, str) and _DIGEST.match(digest):
                seen.setdefault(key, {}).setdefault(digest, []).append(str(report.get("server")))
            else:
                unknown.setdefault(key, []).append(str(report.get("server")))
    agreed, disagreed = {}, {}
    for key in set(seen) | set(unknown):
        digests = seen.get(key, {})
        if key in unknown:
            disagreed[key] = "deployed without a recorded content digest on %s" % ", ".join(sorted(unknown[key]))
        elif len(digests) > 1:
            disagreed[key] = "the model servers hold different files (%s)" % "; ".join(
                "%s on %s" % (digest[:16], ", ".join(sorted(servers))) for digest, servers in sorted(digests.items()))
        else:
            agreed[key] = next(iter(digests))
    return agreed, disagreed


def cache_disagreements(cache_models, reports):
    """Messages for the cached models' versions the cache leaves uncached for their content, or
    because no model server that answered has deployed them."""
    names = {entry["model"] for entry in cache_models}
    disagreed = digest_agreement(reports)[1]
    asked, deployed = set(), set()
    for report in reports or []:
        for entry in (report.get("digests") or []) if isinstance(report, dict) else []:
            if isinstance(entry, dict) and entry.get("name") in names:
                key = (entry["name"], int(entry["version"]))
                asked.add(key)
                if entry.get("deployed"):
                    deployed.add(key)
    messages = ["edge_cache_models: model %s version %d is not cached: %s; publish changed files as a new version "
                "number" % (name, version, reason)
                for (name, version), reason in sorted(disagreed.items()) if name in names]
    messages += ["edge_cache_models: model %s version %d is not cached: no model server that answered has deployed "
                 "it (yet)" % key for key in sorted(asked - deployed)]
    return messages


def _served_model(name, definitions):
    """The one definition of NAME the model servers agree on; None if they do not."""
    distinct = {json.dumps(d, sort_keys=True, default=str) for d in definitions}
    return definitions[0] if len(distinct) == 1 else None


def cache_problems(cache_models, served):
    """Messages naming edge_cache_models for models the cache cannot follow.

    ``served`` is the list of every model server's tfserving_models (one list per host).
    """
    problems = []
    by_name = {}
    for models in served:
        for model in models or []:
            by_name.setdefault(model.get("name"), []).append(model)
    for entry in cache_models:
        name = entry["model"]
        if name not in by_name:
            problems.append("edge_cache_models: model %s is not served by any model server (served: %s)"
                            % (name, ", ".join(sorted(str(n) for n in by_name)) or "none"))
        elif _served_model(name, by_name[name]) is None:
            problems.append("edge_cache_models: the model servers define model %s differently (tfserving_models); "
                            "the cache needs one definition to know which version answers" % name)
        elif not _pinned(by_name[name][0]):
            problems.append("edge_cache_models: model %s is served with version_policy %s (tfserving_models); the "
                            "cache follows only versions a version_policy {specific: [...]} pins, because under latest "
                            "or all TF Serving answers the highest version directories on disk, which the inventory "
                            "does not fix (the role keeps tfserving_model_versions_keep older ones)"
                            % (name, json.dumps(by_name[name][0].get("version_policy") or {"latest": 1})))
    return problems


def _pinned(model):
    """Whether TF Serving's versions of MODEL are fixed by the inventory: version_policy specific."""
    policy = model.get("version_policy")
    return isinstance(policy, dict) and "specific" in policy


def cache_plan(cache_models, served, moves=None, accept_for=0, run="", digests=None):
    """Per cached model: its routes and how each URL form resolves to a version.

    Returns [{name, routes, forms: [{kind, path, version, fetch, key[, label, accept, accept_for,
    accept_run]}]}], where
    ``kind`` is model, label or version, ``path`` the URL path before ":VERB" (the model,
    /labels/L or /versions/V), ``version`` the version the inventory resolves it to, ``fetch``
    the explicit-version path a miss is fetched from and ``key`` the cache key's version part
    (name/version/content digest).
    ``digests`` is what every model server that answered recorded of its versions' files
    (digest_agreement): a version is cached only while every model server that has it deployed
    recorded the same digest, which becomes part of its key. So answers of other files under
    the same version number never share an entry, and a version the model servers hold different
    files for is not cached at all.
    ``moves`` (deploy_models.yml, while the model servers move labels) is every model server's
    tfserving_label_moves ([{model, label, from, to}]): a label form moving to its version gets
    ``accept``, the versions a model server may still answer that label with while the edge
    answers it with the new one (the version it moves from, and its own), ``accept_for``
    (seconds) and ``accept_run`` (``run``: tells one run's table from the next): the edge's
    checker honours ``accept`` for ``accept_for`` seconds from when it first sees that form of
    that run, on its own clock (a roll-out stopped half-way ends it).
    A form whose version the inventory does not declare, or no model server has deployed, is
    left out: it is never cached. So is
    every form of a model without version_policy specific (cache_problems refuses it): under
    latest or all, TF Serving serves what is on disk, which may be a version the inventory
    no longer declares, or no longer the one it declares.
    """
    by_name = {}
    for models in served:
        for model in models or []:
            by_name.setdefault(model.get("name"), []).append(model)
    agreed = digest_agreement(digests)[0]
    plan = []
    for entry in cache_models:
        name = entry["model"]
        model = _served_model(name, by_name.get(name, [])) if name in by_name else None
        if model is None or not _pinned(model):
            continue
        declared = {}
        for version in model.get("versions") or []:
            digest = agreed.get((name, int(version["version"])))
            if digest:
                declared[int(version["version"])] = digest[:16]
        # TF Serving loads exactly these; the model alone is the highest of them.
        served_versions = sorted(int(v) for v in model["version_policy"]["specific"])
        latest = max(served_versions)

        def form(kind, path, version, **extra):
            return dict(extra, kind=kind, path=path, version=version, key="%s/%d/%s" % (name, version, declared[version]),
                        fetch="/v1/models/%s/versions/%d" % (name, version))

        forms = []
        if latest in declared:
            forms.append(form("model", "/v1/models/%s" % name, latest))
        for label, version in sorted((model.get("labels") or {}).items()):
            if _LABEL.match(str(label)) and int(version) in declared:
                extra = {}
                accept = _moving_from(moves, name, str(label), int(version))
                if accept:
                    extra["accept"] = sorted(accept | {int(version)})
                    extra["accept_for"] = int(accept_for)
                    extra["accept_run"] = str(run)
                forms.append(form("label", "/v1/models/%s/labels/%s" % (name, label), int(version), label=str(label),
                                  **extra))
        for version in served_versions:
            if version in declared:
                forms.append(form("version", "/v1/models/%s/versions/%d" % (name, version), version))
        plan.append({"name": name, "routes": list(entry.get("routes", ["predict"])), "forms": forms})
    return plan


def _moving_from(moves, name, label, version):
    """The versions the model servers move LABEL of NAME away from, to VERSION."""
    found = set()
    for server in moves or []:
        for move in server or []:
            if (isinstance(move, dict) and move.get("model") == name and move.get("label") == label
                    and move.get("to") == version and move.get("from") is not None):
                found.add(int(move["from"]))
    return found


def vcl_regex(path, routes):
    """An anchored PCRE for PATH:ROUTE (version numbers may carry leading zeros)."""
    escaped = re.sub(r"([^A-Za-z0-9_/-])", r"\\\1", path)
    escaped = re.sub(r"/versions/([0-9]+)$", r"/versions/0*\1", escaped)
    return "^%s:(%s)$" % (escaped, "|".join(routes))


def route_regex(cache_models):
    """The anchored PCRE of every path the edge routes to its cache: each cached model's
    unversioned, versioned and labelled forms, on its cached routes. The cache itself passes a
    form it cannot resolve, so this is wider than the plan's forms on purpose."""
    alternatives = [
        "%s(/versions/[0-9]+|/labels/[A-Za-z0-9_.-]+)?:(%s)" % (
            re.escape(entry["model"]), "|".join(entry.get("routes") or ["predict"]))
        for entry in cache_models]
    return "^/v1/models/(%s)$" % "|".join(alternatives)
