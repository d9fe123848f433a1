"""The analyst's notebook runs top to bottom on a fresh demo database, and its key figures are data_access's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import nbformat
import pytest
from ipykernel.kernelspec import write_kernel_spec
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

from data_access import clock
from data_access.db import dispose_engines
from data_access.permissions import GLOBAL_ADMIN, Actor
from data_access.queries import overview
from data_access.queries.aging import AgingFilter, aging_by_customer, aging_summary
from tests.support.environment import ROOT

NOTEBOOK = ROOT / "notebooks" / "receivables_review.ipynb"
ZERO = Decimal("0.00")


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database made the way a partner makes one: `init`, then `seed --demo`, through the CLI."""
    url = f"sqlite:///{tmp_path_factory.mktemp('notebook') / 'billing.sqlite3'}"
    env = {**os.environ, "DATABASE_URL": url}
    for args in (["init"], ["seed", "--demo", "--customers", "120", "--seed", "11"]):
        subprocess.run([sys.executable, "-m", "data_access", *args], cwd=ROOT, env=env, check=True,
                       capture_output=True)  # fmt: skip
    return url


@pytest.fixture
def venv_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Jupyter's `python3` kernel pinned to this interpreter (the venv's), whatever kernels the machine has;
    Jupyter's and IPython's files go to the test's folder, not the home directory."""
    write_kernel_spec(tmp_path / "jupyter" / "kernels" / "python3")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    assert KernelSpecManager().get_kernel_spec("python3").argv[0] == sys.executable
    yield


def run_notebook(**parameters: str) -> nbformat.NotebookNode:
    """Execute the notebook from its own folder, as Jupyter would, with the parameters injected papermill's way:
    a cell of assignments right after the cell tagged `parameters`."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    tagged = [i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1, "the notebook has one parameters cell"
    assignments = "\n".join(f"{name} = {value}" for name, value in parameters.items())
    notebook.cells.insert(tagged[0] + 1, nbformat.v4.new_code_cell(assignments))
    client = NotebookClient(notebook, kernel_name="python3", timeout=180,
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}})  # fmt: skip
    client.execute()
    return notebook


def printed_json(cell: nbformat.NotebookNode) -> dict[str, Any]:
    text = "".join(output["text"] for output in cell.outputs if output.get("name") == "stdout")
    figures: dict[str, Any] = json.loads(text, parse_float=Decimal)
    return figures


def test_notebook_is_stored_without_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)


def test_notebook_runs_and_its_figures_reconcile_with_data_access(
    demo_url: str, venv_kernel: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A past date, so the aging adds back what was paid since; 90 days after a first of the month, the day demo
    # invoices are issued on, so the invoices of that first fall just outside the DSO window.
    first = clock.today().replace(day=1)
    for _ in range(5):
        first = overview.month_earlier(first)
    as_of = first + timedelta(days=90)
    monkeypatch.setenv("DATABASE_URL", demo_url)
    monkeypatch.delenv("DATABASE_READ_URL", raising=False)
    dispose_engines()

    executed = run_notebook(AS_OF=f'date.fromisoformat("{as_of.isoformat()}")')

    figures = printed_json(executed.cells[-1])
    assert figures["as_of"] == as_of.isoformat()

    summary = aging_summary(AgingFilter(as_of=as_of))
    open_currencies = set(summary["currency"])
    assert len(open_currencies) > 1, "the demo data bills in several currencies"
    assert open_currencies <= set(figures["trend_last_point"])
    for currency, point in figures["trend_last_point"].items():
        rows = summary[summary["currency"] == currency]
        assert point["receivables"] == sum(rows["amount"], ZERO)
        assert point["overdue"] == sum(rows[rows["bucket"] != "current"]["amount"], ZERO)

    by_customer = aging_by_customer(AgingFilter(as_of=as_of))
    ranked: dict[str, list[tuple[Decimal, str]]] = {}
    for row in by_customer.to_dict(orient="records"):
        overdue = row["total"] - row["current"]
        if overdue > 0:
            ranked.setdefault(row["currency"], []).append((-overdue, row["customer_id"]))
    expected_worst = {currency: (min(rows)[1], -min(rows)[0]) for currency, rows in ranked.items()}
    worst = {
        currency: (payer["customer_id"], payer["overdue"])
        for currency, payer in figures["worst_payer"].items()
    }
    assert worst == expected_worst

    actor = Actor.of("notebook-test", [GLOBAL_ADMIN])
    assert set(figures["dso_days"]) == set(figures["trend_last_point"])
    for currency, dso_days in figures["dso_days"].items():
        expected = overview.overview(actor, as_of=as_of, currency=currency).now.dso_days
        # The overview shows 0.0 where nothing was invoiced in the window; the notebook leaves DSO empty.
        assert dso_days == expected or (dso_days is None and expected == 0), currency
    assert figures["tickets_opened"] > 0
    dispose_engines()
