"""`gpuforge prices refresh` against recorded price API responses served on 127.0.0.1.

The responses under tests/data/price_api are small, hand-trimmed files in the public formats:
the AWS Price List bulk region index, the Spot Instance Advisor's data file and per-region offer CSV (five metadata rows, header, rows;
with distractor rows a Linux EKS node never pays: Windows, RHEL, dedicated tenancy, reserved
terms, capacity-reservation rows, pre-installed SQL, a CapacityBlock market row), the Spot pricing page's spot.js, and Azure
Retail Prices API pages (with NextPageLink, Windows, Low Priority and Spot meters). The HTTP
client is the real one (urllib); only the server is local.
"""

from __future__ import annotations

import io
import json
import shutil
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from gpuforge import catalog
from gpuforge.cli import main
from gpuforge.cloud import offers as cloud_offers
from gpuforge.cloud.refresh import Endpoints, diff, refresh

RECORDED = Path(__file__).parent / "data" / "price_api"
DATA = Path(catalog.__file__).parent / "data"
AWS_TYPES = ["g5.xlarge", "g6e.12xlarge", "p5.48xlarge"]
AZURE_TYPES = ["Standard_NC24ads_A100_v4", "Standard_ND96isr_H200_v5"]
REGIONS = {"aws": ["us-east-1", "eu-west-1", "eu-north-1"], "azure": ["westeurope", "swedencentral"]}


class _Recorded(BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        type(self).requests.append(self.path)
        url = urllib.parse.urlparse(self.path)
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        if url.path.startswith("/aws/") or url.path in ("/spot.js", "/spot-advisor-data.json"):
            path = RECORDED / url.path.lstrip("/")
        elif url.path == "/azure/prices":
            q = urllib.parse.parse_qs(url.query)
            flt = q.get("$filter", [""])[0]
            region = flt.split("armRegionName eq '")[1].split("'")[0]
            page = 2 if "$skip" in q else 1
            path = RECORDED / "azure" / f"{region}-{page}.json"
        else:
            path = Path("/nonexistent")
        if not path.is_file():
            self.send_response(404)
            self.end_headers()
            return
        body = path.read_text().replace("{base}", base).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture()
def server():
    _Recorded.requests = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Recorded)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    yield Endpoints(
        aws_pricing=f"{base}/aws",
        aws_spot=f"{base}/spot.js",
        aws_spot_advisor=f"{base}/spot-advisor-data.json",
        azure_prices=f"{base}/azure/prices",
    )
    srv.shutdown()


@pytest.fixture()
def data_dir(tmp_path):
    """A catalog data dir limited to the recorded types and regions (the shipped files as 'before')."""
    inst = json.loads((DATA / "instances.json").read_text())
    inst["instances"] = [i for i in inst["instances"] if i["name"] in AWS_TYPES + AZURE_TYPES]
    (tmp_path / "instances.json").write_text(json.dumps(inst))
    regs = json.loads((DATA / "regions.json").read_text())
    regs["regions"] = [r for r in regs["regions"] if r["name"] in REGIONS[r["cloud"]]]
    (tmp_path / "regions.json").write_text(json.dumps(regs))
    for c in ("aws", "azure"):
        shutil.copy(DATA / f"prices_{c}.json", tmp_path / f"prices_{c}.json")
    return tmp_path


def _offers(path: Path, cloud: str):
    return cloud_offers.parse(json.loads(path.read_text()), cloud)


def test_refresh_aws_from_the_price_list_and_spot_js(server, data_dir):
    out, err = io.StringIO(), []
    assert refresh(data_dir, ["aws"], server, out=out, progress=err.append) == 0
    got = _offers(data_dir / "prices_aws.json", "aws")
    assert set(got) == {(t, r) for t in AWS_TYPES for r in REGIONS["aws"]}
    g5 = got[("g5.xlarge", "us-east-1")]
    # the Linux, shared, no-software, on-demand row; not Windows 1.19, dedicated 1.107, RI 0.634, SQL 1.146
    assert g5.offered and g5.on_demand.usd_per_hour == 1.006 and g5.on_demand.as_of == "2026-08-01T09:00:00Z"
    assert g5.spot.usd_per_hour == 0.4019 and g5.zones  # zones kept from the previous file
    assert g5.spot.interruption_frequency == "5-10%"  # Spot Instance Advisor range 1, Linux (not Windows)
    assert got[("g5.xlarge", "eu-west-1")].spot.interruption_frequency == ">20%"
    assert got[("g5.xlarge", "eu-west-1")].on_demand.usd_per_hour == 1.123  # RHEL row skipped
    assert got[("g6e.12xlarge", "eu-west-1")].offered is False
    assert got[("g6e.12xlarge", "us-east-1")].spot.status == "not-sold"  # spot.js says N/A*
    assert got[("p5.48xlarge", "eu-west-1")].on_demand.usd_per_hour == 62.10
    assert got[("p5.48xlarge", "us-east-1")].on_demand.usd_per_hour == 55.04  # not the CapacityBlock market row
    assert got[("p5.48xlarge", "eu-west-1")].spot.status == "not-sold"
    # a region the index does not list is unknown, with the reason
    north = got[("g5.xlarge", "eu-north-1")]
    assert north.offered is None and "region index" in (north.offered_reason or "")
    text = out.getvalue()
    assert "aws: " in text and "prices as of" in text and "2026-08-01T09:00:00Z" in text
    assert "p5.48xlarge us-east-1 on-demand: 55.04 -> 55.04" not in text  # unchanged facts are not listed
    assert any("streaming" in line and "us-east-1/index.csv" in line for line in err)
    assert any(r.endswith("region_index.json") for r in _Recorded.requests)


def test_refresh_azure_follows_pages_and_sorts_meters(server, data_dir):
    out = io.StringIO()
    refresh(data_dir, ["azure"], server, out=out, progress=lambda m: None)
    got = _offers(data_dir / "prices_azure.json", "azure")
    a100_we = got[("Standard_NC24ads_A100_v4", "westeurope")]
    assert a100_we.on_demand.usd_per_hour == 4.9  # not the Windows 5.636 item of page 2
    assert a100_we.spot.usd_per_hour == 1.43  # the Spot meter; Low Priority 0.955 skipped
    assert got[("Standard_ND96isr_H200_v5", "westeurope")].offered is False
    h200 = got[("Standard_ND96isr_H200_v5", "swedencentral")]
    assert h200.on_demand.usd_per_hour == 110.272 and h200.spot.usd_per_hour == 44.1088
    assert any("%24skip=2" in r or "$skip=2" in r for r in _Recorded.requests), "page 2 was requested"
    flt = [urllib.parse.unquote_plus(r) for r in _Recorded.requests if r.startswith("/azure/prices")]
    assert any("armRegionName eq 'swedencentral'" in f and "armSkuName eq 'Standard_ND96isr_H200_v5'" in f for f in flt)
    # the diff shows what changed against the shipped snapshot (4.775 -> 4.9, spot unknown -> priced)
    text = out.getvalue()
    assert "Standard_NC24ads_A100_v4 westeurope on-demand: 4.775 -> 4.9 (+2.6%)" in text
    assert "Standard_NC24ads_A100_v4 westeurope spot: unknown -> 1.43" in text


def test_cli_refresh_dry_run_writes_nothing_and_takes_endpoints_from_env(server, data_dir, monkeypatch, capsys):
    before = (data_dir / "prices_aws.json").read_text()
    monkeypatch.setenv("GPUFORGE_AWS_PRICING_URL", server.aws_pricing)
    monkeypatch.setenv("GPUFORGE_AWS_SPOT_URL", server.aws_spot)
    monkeypatch.setenv("GPUFORGE_AWS_SPOT_ADVISOR_URL", server.aws_spot_advisor)
    assert main(["prices", "refresh", "--cloud", "aws", "--dry-run", "--data-dir", str(data_dir)]) == 0
    assert (data_dir / "prices_aws.json").read_text() == before
    out = capsys.readouterr()
    assert "change(s)" in out.out and "aws: region index" in out.err


def test_cli_refresh_reports_an_unreachable_endpoint(data_dir, capsys):
    rc = main(["prices", "refresh", "--cloud", "aws", "--data-dir", str(data_dir), "--aws-pricing-url", "http://127.0.0.1:9"])
    assert rc == 1 and "GPUFORGE_AWS_PRICING_URL" in capsys.readouterr().err


def test_diff_lines():
    old = {"offers": [{"instance_type": "x", "region": "r", "offered": True,
                       "on_demand": {"status": "priced", "usd_per_hour": 2.0}, "spot": {"status": "unknown"}, "capacity_block": {"status": "not-sold"}}]}
    new = {"offers": [{"instance_type": "x", "region": "r", "offered": False,
                       "on_demand": {"status": "not-sold"}, "spot": {"status": "not-sold"}, "capacity_block": {"status": "not-sold"}}]}
    assert diff(old, new) == ["x r offered: offered -> not offered", "x r on-demand: 2 -> not-sold", "x r spot: unknown -> not-sold"]
