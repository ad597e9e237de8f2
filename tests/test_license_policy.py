"""License policy: SPDX parsing, allow/deny, LicenseRef, non-commercial terms."""

from pathlib import Path

import pytest
from conftest import refused
from packages import license_terms as card
from zoo.cards.license_policy import LicensePolicy, check_card_license, combine_licenses

from zoo.errors import CardError, LicenseRefused


def test_default_policy_accepts_known_spdx_licenses():
    assert LicensePolicy().check(card("MIT")) == []
    assert LicensePolicy().check(card("Apache-2.0 OR GPL-3.0-only")) == []


def test_default_policy_refuses_no_license_and_custom_terms():
    with pytest.raises(LicenseRefused, match="no license"):
        LicensePolicy().check(card("NOASSERTION"))
    other = card("other", license_name="Acme Research", license_link="https://acme/l")
    with pytest.raises(LicenseRefused, match="--allow-license 'LicenseRef-Acme-Research'"):
        LicensePolicy().check(other)
    assert LicensePolicy.load(None, ("LicenseRef-Acme-Research",)).check(other) == []


def test_noncommercial_terms_warn_by_default_and_can_be_refused(tmp_path: Path):
    (warning,) = LicensePolicy().check(card("CC-BY-NC-4.0"))
    assert "non-commercial" in warning
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text('noncommercial = "refuse"\n')
    with pytest.raises(LicenseRefused, match="non-commercial"):
        LicensePolicy.load(policy_file).check(card("CC-BY-NC-4.0"))


def test_policy_file_narrows_and_allow_license_widens(tmp_path: Path):
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text('allow = ["MIT", "Apache-2.0"]\ndeny = ["GPL-3.0-only"]\n')
    narrow = LicensePolicy.load(policy_file)
    assert narrow.check(card("MIT AND Apache-2.0")) == []
    assert narrow.check(card("BSD-3-Clause OR MIT")) == []  # a choice: MIT will do
    with pytest.raises(LicenseRefused):
        narrow.check(card("BSD-3-Clause"))
    with pytest.raises(LicenseRefused):
        narrow.check(card("MIT AND GPL-3.0-only"))
    assert LicensePolicy.load(policy_file, ("BSD-3-Clause",)).check(card("BSD-3-Clause")) == []


def test_card_license_must_be_spdx_or_complete_other():
    check_card_license(card("apache-2.0"))
    with pytest.raises(CardError, match="unknown SPDX"):
        check_card_license(card("Apache-2.5"))
    with pytest.raises(CardError, match="not a valid SPDX expression"):
        check_card_license(card("MIT AND"))
    with pytest.raises(CardError, match="license_name and license_link"):
        check_card_license(card("other", license_name="Acme"))


def test_combined_license_keeps_the_base_terms():
    assert combine_licenses("Apache-2.0", None) == "Apache-2.0"
    assert combine_licenses("Apache-2.0", "MIT") == "Apache-2.0 AND MIT"
    assert combine_licenses("MIT", "MIT") == "MIT"


@pytest.mark.slow
def test_pull_refuses_a_license_the_policy_denies(iris_revision, tmp_path: Path):
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text('allow = ["MIT"]\n')
    line = refused("pull", "iris@v1", "--policy", policy_file, "--out", tmp_path / "o")
    assert "licensed 'Apache-2.0'" in line and "--allow-license 'Apache-2.0'" in line
    assert not (tmp_path / "o").exists()
