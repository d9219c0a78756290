"""lighttpd_state=absent removes the instances, their units and the packages; converging again
brings the edge back."""
import pytest

from conftest import host, run_playbook

EDGE, CLIENT = "edge1", "client1"
pytestmark = pytest.mark.units((EDGE, "lighttpd@edge"))


def test_absent_removes_instances_units_and_packages():
    code, output = run_playbook("converge.yml", extra_vars={"lighttpd_state": "absent"})
    assert code == 0, output[-3000:]
    edge = host(EDGE)
    for unit in ("lighttpd@edge.service", "lighttpd@edge.socket", "lighttpd@static.service", "lighttpd@static.socket"):
        assert edge.run("systemctl is-active %s", unit).stdout.strip() == "inactive", unit
    for path in ("/etc/systemd/system/lighttpd@.service", "/etc/systemd/system/lighttpd@edge.socket",
                 "/etc/lighttpd/instances", "/etc/lighttpd/tls", "/etc/logrotate.d/lighttpd-edge"):
        assert not edge.file(path).exists, path
    for package in ("lighttpd", "lighttpd-mod-openssl", "lighttpd-modules-lua"):
        assert not edge.package(package).is_installed, package
    assert host(CLIENT).run("curl -sk -m 5 https://edge1/index.html").rc == 7


# On demand (make test-all): a whole converge after the removal, about 1.5 min.
@pytest.mark.on_demand
def test_converging_again_undoes_the_removal():
    code, output = run_playbook("converge.yml")
    assert code == 0, output[-3000:]
    assert host(CLIENT).check_output("curl -sk -o /dev/null -w %s https://edge1/index.html", "%{http_code}") == "200"
