"""No secret variable can leak in `--diff` or in the log (issue 27): every task that writes or
passes a secret (the task itself, or the template it renders, names one) carries `no_log:
true` (or a no_log template on that secret) or `diff: false`; an assertion counts by the
messages it prints. Secrets are the variables whose names say so (a private key's content,
a passphrase, an HMAC key, a password, a secret), and the role-internal ones derived from them."""
import glob
import os
import re

import pytest
import yaml

# Independent of ansible-core: `make unit` runs it; `make compat` leaves it out of its per-core runs.
pytestmark = pytest.mark.core_independent

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECRET = re.compile(r"\b_*[a-z]+_[a-z_]*(?:key_content|passphrase|hmac_key|password|secret)\b")
# A path to a secret, and a query parameter name the edge's script cuts: not secrets.
NOT_SECRET = {"lighttpd_cache_secret_file", "client_secret"}
ASSERT = ("ansible.builtin.assert", "assert")


def tasks_of(node):
    """Every task in a task list, blocks walked into."""
    for task in node or []:
        if not isinstance(task, dict):
            continue
        yield task
        for key in ("block", "rescue", "always"):
            yield from tasks_of(task.get(key))


JINJA = re.compile(r"{{.*?}}|{%.*?%}", re.S)


def secrets_named(text):
    """The secret variables a text's Jinja expressions use (a name in plain words is no leak)."""
    return sorted(set(SECRET.findall(" ".join(JINJA.findall(text)))) - NOT_SECRET)


def task_files():
    return sorted(glob.glob(os.path.join(ROOT, "roles", "*", "tasks", "*.yml"))
                  + glob.glob(os.path.join(ROOT, "playbooks", "*.yml")))


@pytest.mark.parametrize("path", task_files(), ids=lambda p: os.path.relpath(p, ROOT))
def test_every_task_handling_a_secret_hides_it(path):
    with open(path) as handle:
        document = yaml.safe_load(handle)
    if path.startswith(os.path.join(ROOT, "playbooks")):
        document = [t for play in document or [] for key in ("tasks", "pre_tasks", "post_tasks")
                    for t in play.get(key) or []]
    role_dir = os.path.dirname(os.path.dirname(path))
    exposed = []
    for task in tasks_of(document):
        if any(k in task for k in ("block", "import_tasks", "include_tasks", "import_role", "include_role")):
            continue
        text = yaml.safe_dump({k: v for k, v in task.items() if k != "name"})
        for module in ASSERT:  # an assertion prints its messages, not the values it tested
            if isinstance(task.get(module), dict):
                text = "%s %s" % (task[module].get("fail_msg", ""), task[module].get("success_msg", ""))
        for module in ("ansible.builtin.template", "template"):
            src = (task.get(module) or {}).get("src") if isinstance(task.get(module), dict) else None
            if src and "{{" not in src:
                with open(os.path.join(role_dir, "templates", src)) as handle:
                    text += handle.read()
        names = secrets_named(text)
        # no_log may be a template (hidden whenever the secret is set, errors shown otherwise).
        no_log = task.get("no_log")
        hidden = no_log is True or task.get("diff") is False or (isinstance(no_log, str) and any(n in no_log for n in names))
        if names and not hidden:
            exposed.append("%s (%s)" % (task.get("name"), ", ".join(names)))
    assert not exposed, "tasks that write or pass a secret without no_log: true or diff: false: %s" % exposed


def test_the_rule_sees_the_secrets():
    # The rule is only as good as its list: the roles' secret variables are all matched.
    assert secrets_named("{{ edge_certificate_key_content }} {% if edge_certificate_ca_passphrase %}{{ edge_certificate_acme_eab_hmac_key }}") == [
        "edge_certificate_acme_eab_hmac_key", "edge_certificate_ca_passphrase", "edge_certificate_key_content"]
