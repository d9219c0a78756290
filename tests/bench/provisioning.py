# -*- coding: utf-8 -*-
"""make bench, part 2: provisioning. For fleets of 1, 3 and 6 test hosts: the first converge
of site.yml, a no-op re-run (changed=0 expected) and a one-model roll-out (deploy_models.yml),
timed, with the tasks per host, the module runs per host (callback_plugins/module_runs.py: one
per task or loop item that reaches the host) and the ten slowest tasks (ansible.posix.profile_tasks).

Fleet layout: one host is edge and model server (n=1); otherwise host 0 is the edge (and
serves the TF Serving stand-in's apt repository) and the others are model servers. Ansible
reaches the hosts through the test harness's pipelining podman connection (molecule/shared),
the closest a container gets to SSH with pipelining (ansible.cfg's setting for real fleets).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODELS = os.path.join(ROOT, "tests", "models", "half_plus_two_2_versions")
FIRST = {"tfserving_models": [{"name": "half_plus_two", "labels": {"stable": 123},
                               "versions": [{"version": 123, "src": MODELS + "/00000123"}]}]}
ROLLED_OUT = {"tfserving_models": [{"name": "half_plus_two", "version_policy": {"specific": [123, 124]},
                                    "labels": {"stable": 123, "canary": 124},
                                    "versions": [{"version": 123, "src": MODELS + "/00000123"},
                                                 {"version": 124, "src": MODELS + "/00000124"}]}]}


def run(cmd, env=None, check=True):
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, **(env or {})))
    if check and proc.returncode != 0:
        raise RuntimeError("%s failed:\n%s%s" % (" ".join(cmd), proc.stdout[-4000:], proc.stderr[-2000:]))
    return proc.stdout


def recap(output):
    result = {}
    for match in re.finditer(r"^(\S+)\s+:\s+((?:\w+=\d+\s*)+)$", output, re.M):
        result[match.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(2))}
    return result


def slowest(output, count=10):
    """profile_tasks' summary: 'ROLE : TASK ---- 12.34s'."""
    rows = re.findall(r"^(.+?) -+ (\d+\.\d+)s$", output, re.M)
    rows = sorted(((float(t), name.strip()) for name, t in rows), reverse=True)
    return [{"task": name, "seconds": t} for t, name in rows[:count]]


class Fleet(object):
    def __init__(self, size, network, image, out):
        self.size, self.network, self.image, self.out = size, network, image, os.path.abspath(out)
        self.hosts = ["lts-bench-p%d" % i for i in range(size)]
        self.inventory = os.path.join(out, "fleet-%d.yml" % size)

    def __enter__(self):
        for name in self.hosts:
            run(["podman", "rm", "-f", "-t", "5", name], check=False)
            # The edge writes net.ipv4 sysctls for remote backends: per network namespace, so only
            # this container's (unmask /proc/sys, read-only by default).
            unmask = ["--security-opt", "unmask=/proc/sys"] if name == self.hosts[0] else []
            run(["podman", "run", "-d", "--name", name, "--hostname", name, "--network", self.network,
                 "--systemd", "always", "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN"] + unmask + [self.image, "/sbin/init"])
        edge, servers = self.hosts[0], (self.hosts if self.size == 1 else self.hosts[1:])
        inventory = {"all": {
            "vars": {"ansible_connection": "lts_podman", "ansible_python_interpreter": "/usr/bin/python3",
                     "tfserving_apt_repo_url": "http://%s:8080" % edge,
                     "tfserving_apt_key_url": "http://%s:8080/tensorflow-serving.release.pub.gpg" % edge,
                     "lighttpd_server_name": "localhost",
                     "edge_certificate_ca_dir": os.path.join(self.out, "pki-%d" % self.size)},
            "children": {"edge": {"hosts": {edge: {}}}, "standin_repo": {"hosts": {edge: {}}},
                         "tfserving": {"hosts": {h: {} for h in servers}}}}}
        with open(self.inventory, "w") as handle:
            json.dump(inventory, handle)
        for name in self.hosts:
            for _ in range(60):
                state = subprocess.run(["podman", "exec", name, "systemctl", "is-system-running", "--wait"],
                                       capture_output=True, text=True).stdout.strip()
                if state in ("running", "degraded"):
                    break
                time.sleep(1)
        run(["ansible-playbook", "-i", self.inventory, os.path.join(ROOT, "molecule", "shared", "prepare.yml"),
             "-e", "standin_repo_dir=%s standin_repo_port=8080" % os.path.join(ROOT, ".cache", "standin-repo")])
        return self

    def __exit__(self, *exc):
        for name in self.hosts:
            run(["podman", "rm", "-f", "-t", "5", name], check=False)

    def playbook(self, name, extra):
        start = time.time()
        out = run(["ansible-playbook", "-i", self.inventory, os.path.join(ROOT, "playbooks", name),
                   "-e", json.dumps(extra)],
                  env={"ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks,module_runs",
                       "ANSIBLE_CALLBACK_PLUGINS": os.path.join(ROOT, "tests", "bench", "callback_plugins"),
                       "PROFILE_TASKS_TASK_OUTPUT_LIMIT": "30", "ANSIBLE_CACHE_PLUGIN": "memory"})
        seconds = round(time.time() - start, 1)
        counters = recap(out)
        return {"seconds": seconds,
                "tasks_per_host": {h: c.get("ok", 0) + c.get("skipped", 0) + c.get("failed", 0) for h, c in counters.items()},
                "module_runs_per_host": {h: int(n) for h, n in re.findall(r"^MODULE RUNS (\S+)=(\d+)$", out, re.M)},
                "changed": sum(c.get("changed", 0) for c in counters.values()),
                "slowest": slowest(out)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", required=True)
    parser.add_argument("--image", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--sizes", default=os.environ.get("BENCH_FLEET_SIZES", "1,3,6"))
    args = parser.parse_args()
    results = []
    for size in [int(s) for s in args.sizes.split(",")]:
        print("fleet of %d host(s):" % size, flush=True)
        with Fleet(size, args.network, args.image, args.out) as fleet:
            first = fleet.playbook("site.yml", FIRST)
            print("  first converge  %6.1f s, changed=%d" % (first["seconds"], first["changed"]), flush=True)
            noop = fleet.playbook("site.yml", FIRST)
            print("  no-op re-run    %6.1f s, changed=%d (%.0f %% of the first)"
                  % (noop["seconds"], noop["changed"], 100.0 * noop["seconds"] / first["seconds"]), flush=True)
            rollout = fleet.playbook("deploy_models.yml", ROLLED_OUT)
            print("  roll-out of 124 %6.1f s, changed=%d" % (rollout["seconds"], rollout["changed"]), flush=True)
        results.append({"hosts": size, "first": first, "noop": noop, "rollout": rollout,
                        "noop_share_of_first": round(noop["seconds"] / first["seconds"], 3)})
    with open(os.path.join(args.out, "provisioning.json"), "w") as handle:
        json.dump(results, handle, indent=2)
    lines = ["", "provisioning (site.yml; deploy_models.yml rolls version 124 out):",
             "%6s %12s %12s %10s %12s %14s %18s" % ("hosts", "first s", "no-op s", "no-op %", "roll-out s", "tasks/host",
                                                    "no-op runs/host")]
    for r in results:
        tasks = sorted(r["first"]["tasks_per_host"].values())
        runs = sorted(r["noop"]["module_runs_per_host"].values())
        lines.append("%6d %12.1f %12.1f %9.0f%% %12.1f %14s %18s" % (
            r["hosts"], r["first"]["seconds"], r["noop"]["seconds"], 100 * r["noop_share_of_first"],
            r["rollout"]["seconds"], "%d-%d" % (tasks[0], tasks[-1]) if tasks else "-",
            "%d-%d" % (runs[0], runs[-1]) if runs else "-"))
        if r["noop"]["changed"]:
            lines.append("       no-op re-run changed %d tasks" % r["noop"]["changed"])
    largest = results[-1]
    lines.append("ten slowest tasks of the first converge, %d hosts:" % largest["hosts"])
    lines += ["  %7.1f s  %s" % (t["seconds"], t["task"]) for t in largest["first"]["slowest"]]
    lines.append("ten slowest tasks of the no-op re-run, %d hosts:" % largest["hosts"])
    lines += ["  %7.1f s  %s" % (t["seconds"], t["task"]) for t in largest["noop"]["slowest"]]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, "report.txt"), "a") as handle:
        handle.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
