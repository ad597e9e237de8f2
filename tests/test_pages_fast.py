"""The hub's web pages over plain HTTP, from a real `zoo hub serve` on loopback: the
routes, the filters without JavaScript, lineage both ways, signatures and checks,
the comparison of two revisions, escaping of a hostile card, and `zoo hub site`."""

import html.parser
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from conftest import ok, refused
from hub_pages import HOSTILE, MARKER, PageHub, build_page_hub
from served import served
from test_signing_fast import key_pair


class Parsed(html.parser.HTMLParser):
    """Every element's tag and attributes, and the index rows: repository -> hidden."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.rows: dict[str, bool] = {}
        self._row_hidden: bool | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag == "tr" and "data-kind" in dict(attrs):
            self._row_hidden = "hidden" in dict(attrs)
        if tag == "a" and dict(attrs).get("class") == "repo" and self._row_hidden is not None:
            self.rows[dict(attrs)["href"].lstrip("/")] = self._row_hidden

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def hrefs(self) -> list[str]:
        return [attrs["href"] for tag, attrs in self.elements if "href" in attrs]


def parse(page: str) -> Parsed:
    parsed = Parsed()
    parsed.feed(page)
    return parsed


def get(url: str, method: str = "GET", **headers: str) -> tuple[int, Any, str]:
    request = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.headers, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> tuple[Path, Path]:
    return key_pair(tmp_path_factory.mktemp("keys"), "acme")


@pytest.fixture(scope="module")
def page_hub(tmp_path_factory, keys) -> PageHub:
    return build_page_hub(tmp_path_factory.mktemp("pages"), sign_key=keys[0])


@pytest.fixture(scope="module")
def policy(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("policy") / "policy.toml"
    path.write_text('allow = ["MIT"]\n')
    return path


@pytest.fixture(scope="module")
def site(page_hub, policy, keys, tmp_path_factory) -> str:
    with served(page_hub.root, tmp_path_factory.mktemp("state"), "--policy", str(policy),
                "--trust-key", str(keys[1])) as endpoint:
        yield endpoint


def test_the_index_lists_every_repository_with_its_kind_license_and_signature(site):
    status, headers, page = get(f"{site}/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    rows = parse(page).rows
    assert sorted(rows) == ["acme/derived-a", "acme/derived-b", "evil/evil",
                            "keras/mirrored", "zoo/base", "zoo/preset"]
    assert not any(rows.values())
    row = re.search(r'<tr data-search="[^"]*acme/derived-b.*?</tr>', page, re.S).group()
    assert 'data-kind="derived"' in row and "Apache-2.0" in row and "signed" in row
    assert "refused" in row  # the policy allows MIT only
    preset = re.search(r'<tr data-search="[^"]*zoo/preset.*?</tr>', page, re.S).group()
    assert 'data-kind="imported"' in preset
    mirrored = re.search(r'<tr data-search="[^"]*keras/mirrored.*?</tr>', page, re.S).group()
    assert 'data-kind="mirrored"' in mirrored


def test_a_mirrored_repository_without_a_card_has_a_page(site):
    page = get(f"{site}/keras/mirrored")[2]
    assert f"hf://keras/mirrored@{'4' * 40}" in page and "A preset." in page
    assert re.search(r'<dd id="integrity" class="refused">no card.json', page)

@pytest.mark.parametrize("query, shown", [
    ("kind=derived", ["acme/derived-a", "acme/derived-b"]),
    ("license=Apache-2.0", ["acme/derived-b", "zoo/preset"]),
    ("allowed=1", ["acme/derived-a", "zoo/base"]),
    ("q=tabular", ["zoo/base"]),
    ("q=derived-a", ["acme/derived-a", "acme/derived-b"]),  # derived-b's base is derived-a
    ("q=nothing-like-this", []),
])
def test_the_index_filters_work_without_javascript(site, query, shown):
    rows = parse(get(f"{site}/?{query}")[2]).rows
    assert sorted(name for name, hidden in rows.items() if not hidden) == shown


def test_a_model_page_shows_lineage_both_ways_with_links(site, page_hub):
    base = get(f"{site}/zoo/base?rev=v1")[2]
    assert page_hub.base_v1 in base
    assert 'class="derived" href="/acme/derived-a"' in base
    chain = get(f"{site}/acme/derived-b")[2]
    ancestors = re.search(r'<ol class="chain" id="ancestors">.*?</ol>', chain, re.S).group()
    assert f'href="/acme/derived-a?rev={page_hub.derived_a}"' in ancestors
    assert f'href="/zoo/base?rev={page_hub.base_v1}"' in ancestors  # up to the origin
    assert ('cut at <code>dense_2</code>, <span title="dense_1, dense_2">2 layers frozen'
            in ancestors)
    assert 'class="derived" href="/acme/derived-b"' in get(f"{site}/acme/derived-a")[2]


def test_a_model_page_shows_the_checks_the_signature_and_the_policy(site, page_hub, keys):
    from zoo.trust.signing import public_key_id

    signed = get(f"{site}/acme/derived-b")[2]
    signature = re.search(r'<dd id="signature">(.*?)</dd>', signed, re.S).group(1)
    assert f"verified by {public_key_id(keys[1])}" in signature
    assert "hashes, config scan and layer map passed" in signed
    assert "refused by the policy" in signed
    base = get(f"{site}/zoo/base")[2]
    assert re.search(r'<dd id="signature">unsigned', base)
    assert "allowed by the policy" in base
    assert f"zoo pull hf://zoo/base@{page_hub.base_v2}" in base
    assert f'revision=&#34;{page_hub.base_v2}&#34;' in base  # huggingface_hub's snippet
    assert "model.keras" in base and "card.json" in base


def test_the_snippets_name_the_address_the_browser_used(site, page_hub):
    page = get(f"{site}/zoo/base", Host="hub.lab:8090")[2]
    assert f"HF_ENDPOINT=http://hub.lab:8090 zoo pull hf://zoo/base@{page_hub.base_v2}" in page
    forged = get(f"{site}/zoo/base", Host='x"><script>1</script>')[2]
    assert f"HF_ENDPOINT={site} zoo pull" in forged and "x&#34;&gt;" not in forged


def test_a_model_page_draws_the_layer_map_with_its_cut_points(site):
    page = get(f"{site}/zoo/base?rev=v1")[2]
    picture = re.search(r"<svg.*?</svg>", page, re.S).group()
    assert 'class="cut-point"' in picture
    assert "dense_1" in picture and "dense_2" in picture


def test_the_comparison_shows_a_removed_cut_point_as_breaking(site):
    page = get(f"{site}/zoo/base/compare/v1...v2")[2]
    rows = re.findall(r'<tr class="breaking"><td>(.*?)</td><td>(.*?)</td>', page)
    assert any("dense_2" in what and "cut point" in area for area, what in rows), rows
    assert 'id="breaking"' in page


def test_a_hostile_card_is_shown_as_text(site):
    for url in ("/evil/evil", "/", "/?q=script"):
        page = get(f"{site}{url}")[2]
        parsed = parse(page)
        scripts = [attrs for tag, attrs in parsed.elements if tag == "script"]
        assert all(attrs.get("src", "").endswith("/search.js") for attrs in scripts), scripts
        assert not any(tag in ("img", "iframe") for tag, _ in parsed.elements)
        assert not any(key.startswith("on") for _, attrs in parsed.elements for key in attrs)
        assert not any(href.lower().startswith("javascript:") for href in parsed.hrefs())
        assert MARKER in "".join(parsed.text)  # it is there, as text
        assert HOSTILE not in page


def test_pages_refuse_what_they_do_not_serve(site):
    assert get(f"{site}/nobody/nothing")[0] == 404
    assert "no repository" in get(f"{site}/nobody/nothing")[2]
    assert get(f"{site}/zoo/base?rev=no-such-tag")[0] == 404
    assert get(f"{site}/zoo/base?rev=..%2f..")[0] == 404
    assert get(f"{site}/zoo/base/compare/v1...nope")[0] == 404
    assert get(f"{site}/", method="POST")[0] == 405
    assert get(f"{site}/%2e%2e/base")[0] in (400, 404)


def test_the_hub_api_is_served_beside_the_pages(site, page_hub):
    status, _, body = get(f"{site}/api/models/zoo/base/revision/v1")
    assert status == 200 and page_hub.base_v1 in body
    status, _, card = get(f"{site}/zoo/base/resolve/v1/card.json")
    assert status == 200 and '"name": "base"' in card


def test_static_files_and_security_headers(site):
    status, headers, css = get(f"{site}/-/static/style.css")
    assert status == 200 and headers["Content-Type"].startswith("text/css") and "body" in css
    _, headers, _ = get(f"{site}/")
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert get(f"{site}/-/static/other.js")[0] == 404


def test_serve_refuses_a_bad_policy_before_starting(tmp_path, page_hub):
    (tmp_path / "bad.toml").write_text("allow = 3\n")
    assert "allow must be a list" in refused("hub", "serve", "--hub", page_hub.root,
                                             "--policy", tmp_path / "bad.toml")


def test_hub_site_writes_pages_whose_links_all_resolve(tmp_path, page_hub, policy, keys):
    out = tmp_path / "site"
    run = ok("hub", "site", "--hub", page_hub.root, "--out", out, "--policy", policy,
             "--trust-key", keys[1])
    assert "for 6 repositories" in run.stdout
    pages = sorted(out.rglob("*.html"))
    assert out / "models/zoo/base/index.html" in pages
    assert out / f"models/zoo/base/compare/{page_hub.base_v1}...{page_hub.base_v2}.html" in pages
    for page in pages:
        for href in parse(page.read_text()).hrefs():
            if "://" not in href:
                assert (page.parent / href.split("?")[0]).resolve().is_file(), (page, href)
    evil = (out / "models/evil/evil/index.html").read_text()
    assert HOSTILE not in evil and "&lt;script&gt;" in evil
    compare = (out / f"models/zoo/base/compare/{page_hub.base_v1}...{page_hub.base_v2}.html")
    assert "breaking" in compare.read_text()
    ok("hub", "site", "--hub", page_hub.root, "--out", out)  # a site written there is replaced


def test_hub_site_refuses_a_folder_it_did_not_write_and_a_missing_hub(tmp_path, page_hub):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    assert "is not a site" in refused("hub", "site", "--hub", page_hub.root,
                                      "--out", tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    assert "not a folder hub" in refused("hub", "site", "--hub", tmp_path / "none",
                                         "--out", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_hub_site_keeps_repositories_apart_from_its_own_files(tmp_path):
    from packages import make_package
    from zoo.hub import FolderHub

    hub = FolderHub(tmp_path / "hub")
    hub.publish(make_package(tmp_path / "pkg", name="x"), "index.html", "x")
    ok("hub", "site", "--hub", hub.root, "--out", tmp_path / "site")
    assert "Repositories" in (tmp_path / "site/index.html").read_text()
    assert (tmp_path / "site/_static/style.css").read_bytes().startswith(b"/*")
    assert (tmp_path / "site/models/index.html/x/index.html").is_file()
