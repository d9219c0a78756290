"""roles/tfserving/tasks/wait.yml against a fake REST API on 127.0.0.2 (the controller).

The role waits up to tfserving_wait_timeout (here 6 s: 3 attempts, 2 s apart). A model that
becomes AVAILABLE on the last attempt must pass; one that never does must fail with TF
Serving's own error message.
"""
import json
import os
import socket
import subprocess
import sys
import time

import pytest

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wait")
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", "..", "..", ".."))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.2", 0))
        return sock.getsockname()[1]


def run_wait(available_from, label_from=None):
    port = free_port()
    server = subprocess.Popen([sys.executable, os.path.join(HERE, "fake_model_server.py"), "127.0.0.2",
                               str(port), str(available_from), str(1 if label_from is None else label_from)])
    try:
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.2", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".cache", "collections"),
                   ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
        labels = [{"model": "m", "label": "stable", "version": 1}] if label_from is not None else []
        extra = json.dumps({"tfserving_rest_port": port, "tfserving_wait_timeout": 6,
                            "__tfserving_expected_versions": {"m": [1]}, "__tfserving_expected_labels": labels})
        proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
                               os.path.join(HERE, "wait.yml"), "-e", extra],
                              capture_output=True, text=True, env=env, timeout=120)
        return proc.returncode, proc.stdout + proc.stderr
    finally:
        server.kill()
        server.wait()


def test_available_on_the_last_attempt_passes():
    code, output = run_wait(available_from=3)
    assert code == 0, output[-3000:]


@pytest.mark.parametrize("available_from", [1, 2])
def test_available_early_passes(available_from):
    code, output = run_wait(available_from)
    assert code == 0, output[-3000:]


def test_timeout_fails_with_tf_servings_own_message():
    code, output = run_wait(available_from=0)
    assert code != 0
    assert "did not make model m versions [1] AVAILABLE within 6 s" in output, output[-3000:]
    assert "Could not find SavedModel .pb or .pbtxt at /m/1" in output, output[-3000:]


def test_a_label_that_moves_on_the_last_attempt_passes():
    code, output = run_wait(available_from=1, label_from=3)
    assert code == 0, output[-3000:]


def test_a_label_that_never_moves_fails_naming_the_version_it_answers():
    code, output = run_wait(available_from=1, label_from=0)
    assert code != 0
    assert "did not answer label stable of model m with version 1 within 6 s" in output, output[-3000:]
    assert "It answers: version 2" in output, output[-3000:]
