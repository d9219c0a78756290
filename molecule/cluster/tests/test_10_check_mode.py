"""--check on the converged hosts changes nothing and fails nowhere."""
from conftest import assert_check_mode_clean


def test_check_mode_reports_no_changes():
    assert_check_mode_clean()
