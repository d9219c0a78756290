"""The lighttpd role's handlers touch only the instances whose files changed: "Reload lighttpd"
and "Restart lighttpd" loop over sets computed in vars/main.yml from registered results. A task
that notifies one of them but whose result is not in the set would reload nothing, silently
(issue 28). This holds every notifying task to the contract: it registers its result, and that
name is in the set its handler loops over."""
import glob
import os

import yaml

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "roles", "lighttpd")

# handler -> the vars/main.yml expression whose registered results decide what it touches
HANDLER_SETS = {
    "Reload lighttpd": "__lighttpd_reload_instances",
    "Restart lighttpd": "__lighttpd_restart_instances",
}


def tasks(items):
    for task in items or []:
        yield task
        for key in ("block", "rescue", "always"):
            yield from tasks(task.get(key))


def notifying_tasks():
    for path in sorted(glob.glob(os.path.join(ROLE, "tasks", "*.yml"))):
        with open(path) as handle:
            for task in tasks(yaml.safe_load(handle)):
                notify = task.get("notify") or []
                yield os.path.basename(path), task, [notify] if isinstance(notify, str) else notify


def expanded(name, variables, seen=()):
    """The text of a vars/main.yml expression with the variables it uses expanded."""
    text = str(variables[name])
    for other in variables:
        if other != name and other not in seen and other in text:
            text += expanded(other, variables, seen + (name,))
    return text


def test_every_task_that_notifies_an_instance_handler_is_in_its_set():
    with open(os.path.join(ROLE, "vars", "main.yml")) as handle:
        variables = yaml.safe_load(handle)
    missing = []
    checked = 0
    for path, task, notify in notifying_tasks():
        for handler, set_name in HANDLER_SETS.items():
            if handler not in notify:
                continue
            checked += 1
            register = task.get("register")
            if not register or register not in expanded(set_name, variables):
                missing.append("%s: %r notifies %r but %s does not use its result (%s)"
                               % (path, task.get("name"), handler, set_name, register))
    assert checked >= 5, checked
    assert not missing, "\n".join(missing)
