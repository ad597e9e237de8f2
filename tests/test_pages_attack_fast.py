"""The hub's web pages against an attacker who owns a repository of the hub (any git
object, ref, card, README, tag, commit message or trailer, forged with git plumbing)
or who sends any request to a real `zoo hub serve`: nothing they write runs as
script, nothing outside the hub is read, odd paths and revisions are refused
before git sees them, and the server stays up."""

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ok, refused
from forge import commit, files_of, git, tree
from hub_pages import HOSTILE, MARKER, build_page_hub, cut, layer, lineage, package
from served import served
from test_pages_fast import get, parse
from zoo.hub import FolderHub
from zoo.hub.mirror import TRAILER as MIRRORED_FROM
from zoo.hub.pages.catalog import MAX_README, MAX_REVISIONS

SCRIPT_URLS = ("javascript:", "vbscript:", "data:text", "data:image/svg")
README_ATTACKS = f"""# links that must not run

[plain](javascript:window.{MARKER}=1) [case](JaVaScRiPt:window.{MARKER}=2)
[entity](&#106;avascript:window.{MARKER}=3) [angle](<javascript:window.{MARKER}=4>)
<javascript:window.{MARKER}=5> [reference][r] [vb](vbscript:x)
![svg](data:image/svg+xml,<svg onload=window.{MARKER}=6>)
[html](data:text/html;base64,PHNjcmlwdD4=) [title](http://example.invalid "t\\" onmouseover=x")
<div onclick="window.{MARKER}=7">block</div> &lt;script&gt; &#60;script&#62;

[r]: javascript:window.{MARKER}=8
"""
SPOOFED_REF = "SIGNED-v9"


@dataclass(frozen=True)
class AttackHub:
    root: Path
    outside: Path  # a git repository around the hub, with a main branch
    many: int  # commits of mal/many


def _publish(hub: FolderHub, work: Path, owner: str, name: str, **card: object) -> str:
    dense = [layer(0, "dense_1"), layer(1, "dense_2")]
    return hub.publish(package(work / f"{owner}-{name}", name, dense, [cut("dense_1", 0)],
                               **card), owner, name).revision


def publish_hostile_derived(hub: FolderHub, work: Path) -> None:
    """mal/hostile-derived, v1 and v2: script in every nested field the pages show
    (lineage base, cut layer, frozen layers, head; imported_from; exports' keys and
    paths; metrics; layer and cut point names), the two revisions' cards differing."""
    layers = [layer(0, HOSTILE), layer(1, f"c{HOSTILE}", "head")]
    derived = {**lineage(HOSTILE, "1" * 40, HOSTILE, [HOSTILE]), "head": HOSTILE}
    source = {"source": HOSTILE, "revision": "1" * 40, "format": "keras folder",
              "files": {HOSTILE: "2" * 64}, "license_from": "importer"}
    exports = {HOSTILE: {"path": HOSTILE, "max_abs_diff": 0.0, "tolerance": 1e-5,
                         "quantize": HOSTILE}}
    for version, more in (("1.0.0", {}), ("2.0.0", {"metrics": {HOSTILE: {
            "value": 1.0, "split": HOSTILE, "dataset": HOSTILE}}})):
        folder = package(work / f"hostile-derived-{version}", "hostile-derived", layers,
                         [cut(HOSTILE, 0)], version=version, lineage=derived,
                         imported_from=source, exports=exports, **more)
        hub.publish(folder, "mal", "hostile-derived", tag=f"v{version[0]}")


def build_attack_hub(work: Path) -> AttackHub:
    """The page tests' hub, inside a git repository of someone's (`work`), plus:

    mal/lineage   derived from `../..` at the outer repository's commit
    mal/not-commit  derived from zoo/base at a tree of it (not a commit)
    mal/linked    a folder linking to the outer repository
    mal/alt       a repository borrowing the outer one's objects (alternates)
    javascript:window.MARKER=1/x  a repository folder outside the name grammar
    mal/refs      hostile tag and branch names, a commit subject holding the log's field
                  separator and a Mirrored-from trailer holding markup
    mal/readme    a README of script links; mal/big-readme one over MAX_README
    mal/hostile-derived  script in every nested card field (`publish_hostile_derived`)
    mal/many      more commits than a page lists
    """
    page_hub = build_page_hub(work)
    root, hub = page_hub.root, FolderHub(page_hub.root)
    git(work, "init", "-q", "-b", "main")
    outer = git(work, "commit-tree", tree(work, {"secret.txt": b"outside the hub"}),
                "-m", "OUTSIDE-THE-HUB")
    git(work, "update-ref", "refs/heads/main", outer)

    _publish(hub, work, "mal", "lineage", lineage=lineage("../..", outer, "dense_1", []))
    base_tree = git(root / "models/zoo/base", "rev-parse", f"{page_hub.base_v1}^{{tree}}")
    _publish(hub, work, "mal", "not-commit",
             lineage=lineage("zoo/base", base_tree, "dense_1", []))
    os.symlink(work, root / "models/mal/linked")
    borrowing = root / "models/mal/alt"
    borrowing.mkdir()
    git(borrowing, "init", "-q", "-b", "main")
    (borrowing / ".git/objects/info/alternates").write_text(f"{work / '.git/objects'}\n")
    git(borrowing, "update-ref", "refs/heads/main", outer)
    script_owner = root / "models" / f"javascript:window.{MARKER}=1"
    script_owner.mkdir()
    shutil.copytree(root / "models/zoo/preset", script_owner / "x")

    refs_repo = root / "models/mal/refs"
    _publish(hub, work, "mal", "refs")
    git(refs_repo, "tag", f"<svg/onload=window.{MARKER}=2>")
    git(refs_repo, "branch", "x\"'><b>bold</b>")
    commit(refs_repo, files_of(refs_repo, "main"), message=(
        f"<script>window.{MARKER}=3</script>\x1fmain, tag: {SPOOFED_REF}\n\n"
        f"{MIRRORED_FROM}: <img src=x onerror=window.{MARKER}=4>\n"))

    _publish(hub, work, "mal", "readme", readme=README_ATTACKS)
    publish_hostile_derived(hub, work)
    _publish(hub, work, "mal", "big-readme", readme="# big\n" + "x" * MAX_README)

    many = root / "models/mal/many"
    head = _publish(hub, work, "mal", "many")
    same = git(many, "rev-parse", f"{head}^{{tree}}")
    extra = MAX_REVISIONS + 5
    for number in range(extra):
        head = git(many, "commit-tree", same, "-p", head, "-m", f"commit {number}")
    git(many, "update-ref", "refs/heads/main", head)
    return AttackHub(root, work, extra + 1)


@pytest.fixture(scope="module")
def attack_hub(tmp_path_factory) -> AttackHub:
    return build_attack_hub(tmp_path_factory.mktemp("attack"))


@pytest.fixture(scope="module")
def site(attack_hub, tmp_path_factory) -> str:
    with served(attack_hub.root, tmp_path_factory.mktemp("state")) as endpoint:
        yield endpoint


def assert_inert(page: str) -> None:
    """No element, attribute or link of `page` can run script."""
    parsed = parse(page)
    scripts = [attrs for tag, attrs in parsed.elements if tag == "script"]
    assert all(attrs.get("src", "").endswith("/search.js") for attrs in scripts), scripts
    assert not any(tag in ("img", "iframe", "b", "object", "embed") for tag, _ in parsed.elements)
    assert not any(key.startswith("on") for _, attrs in parsed.elements for key in attrs)
    links = [value.strip().lower() for _, attrs in parsed.elements
             for key, value in attrs.items() if key in ("href", "src") and value]
    assert not any(link.startswith(SCRIPT_URLS) for link in links), links


# --- nothing outside the hub is read -------------------------------------------------

def test_a_lineage_naming_a_path_outside_the_hub_is_not_followed(site):
    status, _, page = get(f"{site}/mal/lineage")
    assert status == 200
    chain = page.split('id="ancestors"', 1)[1].split("</ol>", 1)[0]
    assert "not in this hub" in chain
    assert 'href="/../..' not in chain and 'class="base"' not in chain


def test_a_repository_folder_linking_outside_the_hub_is_neither_listed_nor_served(site):
    status, _, page = get(f"{site}/mal/linked")
    assert status == 404 and "secret.txt" not in page and "OUTSIDE-THE-HUB" not in page
    assert "mal/linked" not in parse(get(f"{site}/")[2]).rows


def test_a_repository_borrowing_objects_from_outside_the_hub_is_neither_listed_nor_served(site):
    status, _, page = get(f"{site}/mal/alt")
    assert status == 404 and "secret.txt" not in page and "OUTSIDE-THE-HUB" not in page
    assert "mal/alt" not in parse(get(f"{site}/")[2]).rows


def test_a_repository_folder_outside_the_name_grammar_is_not_listed(site):
    rows = parse(get(f"{site}/")[2]).rows
    assert "mal/refs" in rows and not any(MARKER in name for name in rows), rows


def test_a_page_for_an_unknown_repository_does_not_tell_where_the_hub_is(site, attack_hub):
    status, _, page = get(f"{site}/nobody/nothing")
    assert status == 404 and "no repository nobody/nothing" in page
    assert str(attack_hub.root) not in page


# --- what an owner writes is text -------------------------------------------------------

def test_hostile_tag_branch_subject_and_trailer_are_shown_as_text(site):
    page = get(f"{site}/mal/refs")[2]
    assert_inert(page)
    assert f"&lt;svg/onload=window.{MARKER}=2&gt;" in page
    assert "&lt;img src=x onerror" in page  # the Mirrored-from trailer


def test_a_commit_subject_cannot_add_refs_to_the_revisions_it_lists(site):
    page = get(f"{site}/mal/refs")[2]
    revisions = page.split('id="revisions"', 1)[1].split("</details>", 1)[0]
    assert SPOOFED_REF in revisions  # in the subject, as text
    assert f'<span class="ref">{SPOOFED_REF}' not in revisions
    assert revisions.count('<span class="ref">main</span>') == 1


def test_readme_links_images_and_html_with_script_urls_are_dropped(site):
    page = get(f"{site}/mal/readme")[2]
    assert_inert(page)
    readme = page.split('id="readme"', 1)[1].split("</article>", 1)[0]
    assert "&lt;div onclick=" in readme and 'href="http://example.invalid"' in readme


@pytest.mark.parametrize("path", ["/mal/hostile-derived", "/mal/hostile-derived?rev=v1",
                                  "/mal/hostile-derived/compare/v1...v2", "/?q=script"])
def test_script_in_nested_card_fields_is_shown_as_text(site, path):
    status, _, page = get(f"{site}{path}")
    assert status == 200
    assert_inert(page)
    assert HOSTILE not in page and MARKER in "".join(parse(page).text)


def test_a_base_revision_that_is_not_a_commit_renders_as_not_in_the_hub(site):
    status, _, page = get(f"{site}/mal/not-commit")
    assert status == 200 and "not in this hub" in page


def test_a_readme_over_the_limit_still_renders_the_page_with_the_reason(site):
    status, _, page = get(f"{site}/mal/big-readme")
    assert status == 200 and "a page shows at most 1,048,576" in page
    assert 'id="license"' in page  # the card is still shown


def test_a_model_page_lists_at_most_max_revisions(site, attack_hub):
    page = get(f"{site}/mal/many")[2]
    revisions = page.split('id="revisions"', 1)[1].split("</details>", 1)[0]
    assert attack_hub.many > MAX_REVISIONS
    assert revisions.count("<li") == MAX_REVISIONS


# --- requests ------------------------------------------------------------------------

@pytest.mark.parametrize("revision", ["..", "-", "--all", "HEAD@{1}", "-v1", "v1..v2",
                                      "main%00", "%3Cscript%3E", "a" * 300])
def test_a_revision_outside_the_grammar_is_refused_before_git(site, revision, tmp_path):
    status, _, page = get(f"{site}/zoo/base?rev={revision}")
    assert status == 404 and "revision name" in page
    written = tmp_path / "owned"
    assert get(f"{site}/zoo/base?rev=--output={written}")[0] == 404
    assert not written.exists()
    assert get(f"{site}/zoo/base/compare/{revision}...v2")[0] in (400, 404)


@pytest.mark.parametrize("spec", ["v1...v2...v1", "v1....v2", "...", "v1...", "...v2",
                                  "-v1...v2", "v1...--all"])
def test_a_comparison_of_more_or_less_than_two_revisions_is_refused(site, spec):
    assert get(f"{site}/zoo/base/compare/{spec}")[0] == 404


@pytest.mark.parametrize("path", ["/%2e%2e/%2e%2e", "/zoo/%2e%2e", "/zoo/%252e%252e",
                                  "/zoo%2Fbase/x", "/zoo/base%2F..", "/zoo/base/",
                                  "/api/base", "/-/base", "/-/static/..%2fapp.py",
                                  "/-/static/", "/zoo/" + "b" * 5000])
def test_paths_with_traversal_encoding_or_reserved_owners_are_refused(site, path):
    status, _, body = get(f"{site}{path}")
    assert status in (400, 404, 414) and "<!doctype html>" not in body.lower()


def test_the_server_still_answers_after_the_attacks(site):
    assert get(f"{site}/")[0] == 200
    assert get(f"{site}/zoo/base")[0] == 200


# --- zoo hub site -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_hub(tmp_path_factory) -> Path:
    """One package, a hostile one and a repository folder named like a script URL."""
    work = tmp_path_factory.mktemp("small")
    hub = FolderHub(work / "hub")
    _publish(hub, work, "zoo", "one")
    publish_hostile_derived(hub, work)
    weird = hub.root / "models" / f"javascript:window.{MARKER}=1"
    weird.mkdir()
    shutil.copytree(hub.root / "models/zoo/one", weird / "x")
    return hub.root


def test_hub_site_links_no_repository_folder_outside_the_name_grammar(small_hub, tmp_path):
    out = tmp_path / "site"
    ok("hub", "site", "--hub", small_hub, "--out", out)
    index = (out / "index.html").read_text()
    assert_inert(index)
    assert "zoo/one" in index and f"javascript:window.{MARKER}" not in index


def test_hub_site_pages_show_script_in_card_fields_as_text(small_hub, tmp_path):
    out = tmp_path / "site"
    ok("hub", "site", "--hub", small_hub, "--out", out)
    pages = list((out / "models/mal/hostile-derived").rglob("*.html"))
    assert len(pages) == 4  # the head, two revisions, one comparison
    for page in pages:
        assert_inert(page.read_text())
        assert HOSTILE not in page.read_text()


@pytest.mark.parametrize("where", ["the hub", "inside the hub", "inside a repository",
                                   "inside a .git"])
def test_hub_site_refuses_to_write_inside_the_hub(small_hub, where):
    out = {"the hub": small_hub, "inside the hub": small_hub / "site",
           "inside a repository": small_hub / "models/zoo/site",
           "inside a .git": small_hub / "models/zoo/one/.git/site"}[where]
    assert "inside the hub" in refused("hub", "site", "--hub", small_hub, "--out", out)
    assert not out.exists() or out == small_hub


def test_hub_site_never_replaces_a_site_folder_that_holds_the_hub(tmp_path):
    site = tmp_path / "site"
    ok("hub", "site", "--hub", _tiny_hub(tmp_path / "elsewhere"), "--out", site)
    hub = _tiny_hub(site)  # someone put a hub inside the site folder
    assert "inside the hub" in refused("hub", "site", "--hub", hub, "--out", site)
    assert FolderHub(hub).repos()


def test_hub_site_refuses_an_out_that_is_a_link(small_hub, tmp_path):
    (tmp_path / "target").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "target")
    assert "is not a site" in refused("hub", "site", "--hub", small_hub,
                                      "--out", tmp_path / "link")
    assert not any((tmp_path / "target").iterdir())


def _tiny_hub(work: Path) -> Path:
    hub = FolderHub(work / "hub")
    _publish(hub, work, "zoo", "tiny")
    return hub.root
