"""``rruffgeo serve`` through Starlette's test client, against a tiny real provenance model:
good and bad files, zips, escaping, limits, the private temp folder and concurrent users."""

from __future__ import annotations

import io
import json
import re
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from html import unescape
from pathlib import Path

import numpy as np
import pytest

from rruffgeo.cli.serve import is_loopback
from rruffgeo.serve.uploads import Limits, display_name, safe_suffix
from synthetic_learn import COUNTRIES, spectrum
from synthetic_predict import located_final

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx`")
FORMATS = Path(__file__).parent / "data" / "formats"
LIMITS = Limits(max_bytes=400_000, max_files=12, max_spectra=40, max_unpacked=2 * 2**20)


def csv_bytes(country: int, seed: int = 0) -> bytes:
    """A synthetic spectrum of ``country`` (its bands) as a two-column CSV."""
    x, y = spectrum(country, np.random.default_rng(seed))
    return ("wavenumber,intensity\n" + "\n".join(f"{a:.3f},{b:.4f}" for a, b in
                                                 zip(x, y, strict=True))).encode()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from rruffgeo import open_model

    return open_model(located_final(tmp_path_factory.mktemp("serve")))


@pytest.fixture(scope="module")
def client(model):
    from starlette.testclient import TestClient

    from rruffgeo.serve.app import create_app

    with TestClient(create_app(model, LIMITS)) as c:
        yield c


def post(client, files: list[tuple[str, bytes]], **fields: str):
    return client.post("/", files=[("files", (n, d, "application/octet-stream"))
                                   for n, d in files], data=fields)


def outcome(html: str) -> tuple[list[str], dict[str, str]]:
    """Predicted file names and refused name -> reason, as the page's file table lists them."""
    predicted = re.findall(r'<td><a href="#s\d+">([^<]*)</a></td><td class="ok">', html)
    refused = re.findall(r'<tr class="refused"><td>([^<]*)</td><td class="reason">([^<]*)<',
                         html)
    return [unescape(n) for n in predicted], {unescape(n): unescape(r) for n, r in refused}


def test_page_offers_the_form_and_needs_nothing_from_outside(client):
    page = client.get("/")
    assert page.status_code == 200 and 'type="file"' in page.text
    assert 'id="ne0"' in page.text  # the world's outlines ship with the page
    # Nothing is fetched from another host: no src/href to http(s) anywhere.
    assert not re.search(r'(src|href)="(https?:)?//', page.text)


def test_good_files_show_species_specimens_map_set_and_downloads(client):
    files = [("bra.csv", csv_bytes(1)), ("ita.csv", csv_bytes(2, 1)),
             ("nCal.wdf", (FORMATS / "nCal_Qontor785_z005H12_100_1x3s.wdf").read_bytes())]
    r = post(client, files, coverage="0.9")
    assert r.status_code == 200
    predicted, refused = outcome(r.text)
    assert predicted == ["bra.csv", "ita.csv", "nCal.wdf"] and refused == {}
    cards = r.text.split('<article class="sample"')[1:]
    assert "Brazil" in cards[0].split("Country of origin")[1][:400]
    assert "Italy" in cards[1].split("Country of origin")[1][:400]
    for card in cards:
        assert "Species match" in card and "Nearest reference specimens" in card
        assert re.search(r"90% set: \d+ of 3 countries", card)
        assert card.count("<polyline") == 3  # as read; preprocessed + best match
        assert 'class="worldmap"' in card and card.count('<use href="#ne') > 200
        assert card.count('<circle class="specimen"') == 10  # the ten nearest specimens
    token = re.search(r'/download/([\w-]+)/results\.json', r.text).group(1)
    data = client.get(f"/download/{token}/results.json").json()
    assert set(data["predictions"]) == {"bra.csv", "ita.csv", "nCal.wdf"}
    assert data["predictions"]["bra.csv"]["prediction_set"][0] == "BRA"
    table = client.get(f"/download/{token}/results.csv").text.splitlines()
    assert table[0].startswith("file,rank,country_iso3,country_name,probability,in_set")
    assert client.get(f"/download/{token}/results.specimens.csv").status_code == 200
    assert client.get("/download/nosuchtoken/results.json").status_code == 404


def test_bad_files_are_refused_in_plain_words_and_the_rest_goes_on(client):
    files = [("empty.txt", b""), ("words.csv", b"wavenumber,intensity\n100,1\n200,abc\n"),
             ("notes.md", b"# notes"), ("gxy.spc", (FORMATS / "gxy.spc").read_bytes()),
             ("binary.txt", bytes(range(256)) * 8), ("good.csv", csv_bytes(0))]
    r = post(client, files)
    assert r.status_code == 200
    predicted, refused = outcome(r.text)
    assert predicted == ["good.csv"]
    assert set(refused) == {"empty.txt", "words.csv", "notes.md", "gxy.spc", "binary.txt"}
    assert refused["empty.txt"] == "empty file"
    assert "line 3" in refused["words.csv"] and "XARB" in refused["gxy.spc"]
    assert "unsupported file type" in refused["notes.md"]
    assert "Traceback" not in r.text


def test_zip_members_are_checked_by_the_readers(client):
    archive = zip_bytes({"set/a.csv": csv_bytes(0), "set/b.csv": csv_bytes(2),
                         "../evil.csv": csv_bytes(1), "set/readme.pdf": b"%PDF"})
    r = post(client, [("batch.zip", archive)])
    predicted, refused = outcome(r.text)
    assert predicted == ["batch.zip/set/a.csv", "batch.zip/set/b.csv"]
    assert set(refused) == {"batch.zip/../evil.csv", "batch.zip/set/readme.pdf"}
    assert "not a supported spectrum file type" in refused["batch.zip/set/readme.pdf"]


def test_a_file_of_many_spectra_is_one_sample_each(client, monkeypatch):
    r = post(client, [("x-y.spc", (FORMATS / "x-y.spc").read_bytes())])
    _, refused = outcome(r.text)
    assert "laser wavelength" in refused["x-y.spc"]  # a nm axis: needs the laser
    monkeypatch.setattr("rruffgeo.serve.app.MAX_CARDS", 3)  # past it: one line per sample
    r = post(client, [("x-y.spc", (FORMATS / "x-y.spc").read_bytes())], laser_nm="532")
    predicted, refused = outcome(r.text)
    rest = re.findall(r'<td><a href="#rest">([^<]*)</a>', r.text)
    assert len(predicted) == 3 and r.text.count('<article class="sample" id="s') == 3
    assert len(predicted) + len(rest) + len(refused) == 31
    assert all(n.startswith("x-y.spc#") for n in predicted + rest + list(refused))
    assert f"{len(rest)} more samples" in r.text
    token = re.search(r'/download/([\w-]+)/results\.json', r.text).group(1)
    assert len(client.get(f"/download/{token}/results.json").json()["predictions"]) == \
        len(predicted) + len(rest)
    bad = post(client, [("a.csv", csv_bytes(0))], laser_nm="green")
    assert bad.status_code == 400 and "not a number" in unescape(bad.text)


def test_names_are_escaped_and_never_become_paths(client, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    evil = "<img src=x onerror=alert(1)>.csv"
    r = post(client, [(evil, csv_bytes(0)), ("../../escape.csv", csv_bytes(1))])
    assert "<img src=x" not in r.text and "&lt;img src=x onerror=alert(1)&gt;.csv" in r.text
    predicted, _ = outcome(r.text)
    assert evil in predicted and "escape.csv" in predicted  # shown, folders stripped
    # The private folder is gone, and nothing was written outside it.
    assert list(tmp_path.iterdir()) == []
    assert not (tmp_path.parent / "escape.csv").exists()
    assert display_name("a/\x1b[31mb.txt", 1) == "a/[31mb.txt"
    assert safe_suffix("x.t xt") == "" and safe_suffix("s.SPC") == ".spc"


def test_limits_answer_with_a_clear_message(client):
    for size in (120_000, 500_000):  # caught while copied; refused before it is read
        big = post(client, [("big.csv", b"1,2\n" * size)])
        assert big.status_code == 413 and "larger than 391 kB, the most" in big.text
    many = post(client, [(f"f{i}.csv", csv_bytes(0, i)) for i in range(LIMITS.max_files + 1)])
    assert many.status_code == 413 and "more than 12 files" in many.text
    spectra = zip_bytes({f"s{i}.csv": csv_bytes(0, i) for i in range(LIMITS.max_spectra + 1)})
    r = post(client, [("many.zip", spectra)])
    assert r.status_code == 413 and f"more than {LIMITS.max_spectra} spectra" in r.text
    bomb = zip_bytes({f"z{i}.csv": b"100,1\n" * 200_000 for i in range(3)})  # 3.6 MB in 10 kB
    assert len(bomb) < 50_000
    r = post(client, [("bomb.zip", bomb)])
    assert r.status_code == 413 and "unpack to more than 2 MB" in r.text
    none = client.post("/", data={"coverage": "0.9"})
    assert none.status_code == 400 and "choose at least one spectrum file" in none.text


def test_concurrent_users_each_get_their_own_answer(client):
    def one(i: int) -> tuple[int, list[str], str]:
        r = post(client, [(f"user{i}.csv", csv_bytes(i % 3, i))])
        card = r.text.split('<article class="sample"')[1]
        first = re.search(r"<td>1</td><td>(\w{3})</td>", card.split("Country of origin")[1])
        return r.status_code, outcome(r.text)[0], first.group(1)

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(one, range(6)))
    for i, (status, predicted, top) in enumerate(answers):
        assert status == 200 and predicted == [f"user{i}.csv"]
        assert top == COUNTRIES[i % 3][0]


def test_only_loopback_counts_as_private():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")


def test_downloads_match_predict_output(client, model, tmp_path):
    """The JSON download is what ``rruffgeo predict --output x.json`` writes."""
    from rruffgeo.cli import main

    data = csv_bytes(2, 7)
    (tmp_path / "same.csv").write_bytes(data)
    assert main(["predict", "--model", str(model.folder), str(tmp_path / "same.csv"),
                 "--output", str(tmp_path / "out.json")]) == 0
    cli = json.loads((tmp_path / "out.json").read_text())["predictions"]
    r = post(client, [("same.csv", data)])
    token = re.search(r'/download/([\w-]+)/results\.json', r.text).group(1)
    page = client.get(f"/download/{token}/results.json").json()["predictions"]
    assert page["same.csv"] == cli[str(tmp_path / "same.csv")]


def test_the_page_answers_while_a_batch_is_predicted(client):
    """Prediction runs in worker threads: a second user's page does not wait for it."""
    done: dict[str, float] = {}

    def batch() -> None:
        many = zip_bytes({f"b{i}.csv": csv_bytes(i % 3, i) for i in range(LIMITS.max_spectra)})
        r = post(client, [("many.zip", many)])
        assert r.status_code == 200
        done["batch"] = time.perf_counter()

    with ThreadPoolExecutor(1) as pool:
        job = pool.submit(batch)
        time.sleep(0.1)
        assert client.get("/").status_code == 200
        done["page"] = time.perf_counter()
        job.result()
    assert done["page"] < done["batch"]


def test_a_network_model_gives_countries_and_the_map(tmp_path):
    """A network folder has no library: countries, map and downloads, no species tables."""
    from starlette.testclient import TestClient

    from rruffgeo import open_model
    from rruffgeo.serve.app import create_app
    from synthetic_predict import tiny_network, tiny_workdir

    network = open_model(tiny_network(tiny_workdir(tmp_path)))
    with TestClient(create_app(network, LIMITS)) as c:
        r = post(c, [("a.csv", csv_bytes(0)), ("empty.txt", b"")])
        predicted, refused = outcome(r.text)
        assert predicted == ["a.csv"] and refused == {"empty.txt": "empty file"}
        card = r.text.split('<article class="sample"')[1]
        assert "Country of origin" in card and 'class="worldmap"' in card
        assert "Species match" not in card and "set:" not in card
        token = re.search(r'/download/([\w-]+)/results\.json', r.text).group(1)
        data = c.get(f"/download/{token}/results.json").json()
        assert [p["rank"] for p in data["predictions"]["a.csv"]] == [1, 2, 3]
        assert data["refused"] == [{"file": "empty.txt", "reason": "empty.txt: empty file"}]
        assert c.get(f"/download/{token}/results.species.csv").status_code == 404


def test_a_batch_with_nothing_to_predict_still_answers(client):
    r = post(client, [("empty.txt", b""), ("notes.md", b"# notes")])
    assert r.status_code == 200 and "0 predicted, 2 refused" in r.text
    token = re.search(r'/download/([\w-]+)/results\.json', r.text).group(1)
    data = client.get(f"/download/{token}/results.json").json()
    assert data["predictions"] == {} and len(data["refused"]) == 2


def test_preprocessing_auto_is_applied_and_shown(client):
    r = post(client, [("a.csv", csv_bytes(1))], preprocess="auto")
    predicted, refused = outcome(r.text)
    assert predicted == ["a.csv"] and refused == {}
    assert 'value="auto" selected' in r.text
    bad = post(client, [("a.csv", csv_bytes(1))], preprocess="../../etc")
    assert bad.status_code == 400 and "choose none or auto" in unescape(bad.text)


def test_serve_says_when_the_port_is_taken(capsys):
    import socket

    from rruffgeo.cli import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--model", "nowhere", "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert f"--port {port}: cannot listen there: in use" in err and "Traceback" not in err


def test_only_the_last_batches_are_kept_for_download(client, monkeypatch):
    monkeypatch.setattr("rruffgeo.serve.app.KEPT_SPECTRA", 2)
    tokens = []
    for i in range(3):
        r = post(client, [(f"k{i}.csv", csv_bytes(0, i))])
        tokens.append(re.search(r'/download/([\w-]+)/results\.json', r.text).group(1))
    gone = client.get(f"/download/{tokens[0]}/results.json")
    assert gone.status_code == 404 and "no longer kept" in gone.text
    assert client.get(f"/download/{tokens[2]}/results.json").json()["predictions"]["k2.csv"]


def test_the_page_template_ships_with_the_package():
    """An installed copy renders the page from the template beside the code."""
    import tomllib

    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["package-data"]["rruffgeo"]
    folder = root / "src" / "rruffgeo" / "serve" / "templates"
    files = [p.relative_to(root / "src" / "rruffgeo") for p in folder.iterdir()]
    assert files and all(any(f.match(p) for p in patterns) for f in files)
