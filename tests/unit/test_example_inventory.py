"""The example inventory works as its comments say (issue 27): with the vault example copied
where its first comment says, every variable the inventory sets resolves for every host, and
the CA directory default lands in the user's project, beside the inventory."""
import glob
import json
import os
import shutil
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "inventories", "example")
PLAY = """
- hosts: all
  gather_facts: false
  connection: local
  tasks:
    - ansible.builtin.copy:
        dest: "{{ out }}/{{ inventory_hostname }}.json"
        content: "{{ dict(mine | zip(q('ansible.builtin.vars', *mine))) | to_json }}"
      vars:
        mine: "{{ names | select('in', hostvars[inventory_hostname]) | list }}"
      delegate_to: localhost
"""


def test_every_variable_of_the_example_resolves_for_every_host(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project / "inventory")
    # What the vault example's first comment says to do (encryption aside).
    shutil.copy(project / "inventory" / "group_vars" / "all" / "vault.yml.example",
                project / "inventory" / "group_vars" / "all" / "vault.yml")
    names, per_group = set(), {}
    for path in glob.glob(str(project / "inventory" / "group_vars" / "**" / "*.yml"), recursive=True):
        with open(path) as handle:
            group = os.path.relpath(path, project / "inventory" / "group_vars").split(os.sep)[0].replace(".yml", "")
            per_group.setdefault(group, set()).update(yaml.safe_load(handle) or {})
    names = set().union(*per_group.values())
    names |= {"edge_certificate_ca_dir"}  # the role default that depends on where the inventory is
    (tmp_path / "play.yml").write_text(PLAY)
    out = tmp_path / "out"
    out.mkdir()
    env = dict(os.environ, ANSIBLE_ROLES_PATH=os.path.join(ROOT, "roles"))
    proc = subprocess.run(
        [shutil.which("ansible-playbook") or os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(project / "inventory" / "hosts.yml"), str(tmp_path / "play.yml"),
         "-e", json.dumps({"out": str(out), "names": sorted(names),
                           "edge_certificate_ca_dir": "{{ inventory_dir }}/pki/lighttpd-edge-ca"})],
        capture_output=True, text=True, env=env, cwd=str(project))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    with open(os.path.join(ROOT, "roles", "edge_certificate", "defaults", "main.yml")) as handle:
        assert yaml.safe_load(handle)["edge_certificate_ca_dir"] == "{{ inventory_dir }}/pki/lighttpd-edge-ca"
    hosts = sorted(os.listdir(out))
    assert len(hosts) == 7, hosts
    for name in hosts:
        with open(out / name) as handle:
            values = json.load(handle)
        assert values["edge_certificate_ca_dir"] == str(project / "inventory" / "pki" / "lighttpd-edge-ca")
        group = {"edge": "edge", "tfs": "tfserving", "mon": "monitoring"}[name.split("-")[0]]
        assert per_group[group] | per_group["all"] <= set(values), sorted(per_group[group] - set(values))
        if name.startswith("edge-"):
            assert values["lighttpd_api_key_sha256"] == ["0" * 64], values
