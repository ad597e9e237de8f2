"""License policy and Hub license ids beyond the basics: choices, exceptions,
deny lists, policy files that cannot be used, what a derived package is under."""

from pathlib import Path

import pytest
from packages import license_terms as card
from zoo.cards.hf_license import hf_license_to_spdx, readme_license
from zoo.cards.license_policy import (
    LicensePolicy,
    check_card_license,
    combine_licenses,
    license_ref,
    parse_license,
    policy_file,
)

from zoo.errors import CardError, LicenseRefused


def policy(tmp_path: Path, text: str, *allow_license: str) -> LicensePolicy:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return LicensePolicy.load(path, allow_license)


def test_a_license_exception_is_judged_by_its_license(tmp_path):
    gpl = policy(tmp_path, 'allow = ["GPL-2.0-or-later"]\n')
    assert gpl.check(card("GPL-2.0-or-later WITH Classpath-exception-2.0")) == []
    with pytest.raises(LicenseRefused):
        policy(tmp_path, 'allow = ["MIT"]\n').check(
            card("GPL-2.0-or-later WITH Classpath-exception-2.0"))


def test_a_choice_is_refused_only_when_no_option_is_allowed(tmp_path):
    narrow = policy(tmp_path, 'allow = ["Apache-2.0"]\n')
    assert narrow.check(card("MIT OR Apache-2.0")) == []
    with pytest.raises(LicenseRefused, match="licensed 'MIT OR GPL-3.0-only'"):
        narrow.check(card("MIT OR GPL-3.0-only"))


def test_deny_wins_over_allow_and_allow_license_wins_over_deny(tmp_path):
    text = 'allow = ["MIT", "GPL-3.0-only"]\ndeny = ["GPL-3.0-only"]\n'
    with pytest.raises(LicenseRefused):
        policy(tmp_path, text).check(card("GPL-3.0-only"))
    assert policy(tmp_path, text, "GPL-3.0-only").check(card("GPL-3.0-only")) == []


def test_a_license_ref_needs_to_be_named_even_without_an_allow_list():
    acme = card("LicenseRef-Acme")
    with pytest.raises(LicenseRefused, match="--allow-license 'LicenseRef-Acme'"):
        LicensePolicy().check(acme)
    assert LicensePolicy.load(None, ("LicenseRef-Acme",)).check(acme) == []


def test_noncommercial_terms_can_be_allowed_silently(tmp_path):
    assert policy(tmp_path, 'noncommercial = "allow"\n').check(card("CC-BY-NC-SA-4.0")) == []


@pytest.mark.parametrize("text, message", [
    ('allow = ["MIT"\n', "cannot be read"),
    ('noncommercial = "sometimes"\n', "noncommercial must be one of warn, refuse, allow"),
    ('allow = ["MIT AND"]\n', "not a valid SPDX expression"),
    ('deny = ["Apache-2.5"]\n', "unknown SPDX id(s): Apache-2.5"),
])
def test_a_policy_file_that_cannot_be_used_is_refused(tmp_path, text, message):
    with pytest.raises(CardError) as caught:
        policy(tmp_path, text)
    assert message in str(caught.value)


def test_without_a_policy_file_the_default_policy_applies(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_HOME", str(tmp_path))  # no policy.toml there
    assert policy_file(None) is None
    assert LicensePolicy.load(policy_file(None)) == LicensePolicy()


def test_the_default_policy_file_is_read_when_it_exists(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_HOME", str(tmp_path))
    (tmp_path / "policy.toml").write_text('allow = ["MIT"]\n')
    assert LicensePolicy.load(policy_file(None)).allow == {"MIT"}


def test_a_named_policy_file_that_is_missing_is_refused(tmp_path):
    with pytest.raises(CardError, match="nowhere.toml does not exist"):
        policy_file(tmp_path / "nowhere.toml")
    with pytest.raises(CardError, match="nowhere.toml does not exist"):
        LicensePolicy.load(tmp_path / "nowhere.toml")
    with pytest.raises(CardError, match="is not a file"):
        LicensePolicy.load(tmp_path)


@pytest.mark.parametrize("text, message", [
    ('allow = "MIT"\n', "allow must be a list of SPDX expressions"),
    ("allow = [1, 2]\n", "allow must be a list of SPDX expressions"),
    ("deny = {MIT = true}\n", "deny must be a list of SPDX expressions"),
    ("noncommercial = 3\n", "noncommercial must be one of warn, refuse, allow"),
    ("noncommercial = [\"warn\"]\n", "noncommercial must be one of warn, refuse, allow"),
    ('alow = ["MIT"]\n', "unknown key(s) 'alow'"),
    ('require_signatures = true\n', "unknown key(s) 'require_signatures'"),
    ("x = " + "[" * 5000 + "]" * 5000 + "\n", "nests too deeply"),
])
def test_a_policy_file_with_wrong_types_is_refused(tmp_path, text, message):
    with pytest.raises(CardError) as caught:
        policy(tmp_path, text)
    assert message in str(caught.value)


def test_a_policy_file_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_bytes('allow = ["MIT"]\n# caf\xe9\n'.encode("latin-1"))
    with pytest.raises(CardError, match="is not UTF-8 text"):
        LicensePolicy.load(path)


@pytest.mark.parametrize("license", ["NONE", "none", "NOASSERTION"])
def test_no_license_is_refused_by_card_and_policy(license):
    with pytest.raises(LicenseRefused, match="no license"):
        check_card_license(card(license))
    with pytest.raises(LicenseRefused, match="cannot be reused"):
        LicensePolicy().check(card(license))


def test_an_empty_license_is_refused_with_an_example():
    with pytest.raises(CardError, match="give an SPDX id such as 'Apache-2.0'"):
        parse_license("")


@pytest.mark.parametrize("base, addition, combined", [
    ("Apache-2.0 AND MIT", "MIT", "Apache-2.0 AND MIT"),  # a derived package of a derived one
    ("MIT", "Apache-2.0", "MIT AND Apache-2.0"),  # the base's terms first
    ("MIT OR Apache-2.0", "BSD-3-Clause", "(MIT OR Apache-2.0) AND BSD-3-Clause"),
    ("MIT OR Apache-2.0", "Apache-2.0 OR MIT", "MIT OR Apache-2.0"),
    ("LicenseRef-Acme", "mit", "LicenseRef-Acme AND MIT"),
])
def test_derived_license_keeps_each_term_once(base, addition, combined):
    assert combine_licenses(base, addition) == combined


def test_the_adapters_license_must_be_spdx():
    with pytest.raises(CardError, match="--license 'Foo-1.0' has unknown SPDX id"):
        combine_licenses("MIT", "Foo-1.0")


@pytest.mark.parametrize("name, ref", [
    ("Acme Research License v2!", "LicenseRef-Acme-Research-License-v2"),
    ("!!!", "LicenseRef-unnamed")])
def test_license_ref_slugs_a_license_name(name, ref):
    assert license_ref(name) == ref


@pytest.mark.parametrize("hf_id, spdx", [
    ("bsd", "BSD-3-Clause"), (" MIT ", "MIT"), ("lgpl-2.1", "LGPL-2.1-only"),
    ("other", "LicenseRef-other"), ("not a license", "LicenseRef-hf-not-a-license"),
    ("Apache-2.0 AND MIT", "LicenseRef-hf-Apache-2.0-AND-MIT"),  # an id, not an expression
])
def test_more_hub_license_ids(hf_id, spdx):
    assert hf_license_to_spdx(hf_id) == spdx


@pytest.mark.parametrize("front_matter, spdx", [
    ("license: mit", "MIT"),
    ("license: other\nlicense_name: Apache-2.0 AND MIT", "Apache-2.0 AND MIT"),
    ("license: other\nlicense_name: Acme Research", "LicenseRef-Acme-Research"),
    ("tags: [x]", None),
])
def test_readme_license_of_hand_written_pages(front_matter, spdx):
    assert readme_license(f"---\n{front_matter}\n---\n# A model\n") == spdx


def test_a_readme_file_that_is_missing_states_no_license(tmp_path):
    """A Hub repository without README.md shows no license: None, not a crash."""
    from zoo.cards.hf_license import readme_file_license

    assert readme_file_license(tmp_path / "README.md") is None
    (tmp_path / "README.md").write_text("---\nlicense: mit\n---\n")
    assert readme_file_license(tmp_path / "README.md") == "MIT"
