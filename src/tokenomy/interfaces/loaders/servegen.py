"""Loader of the ServeGen characterisation archive: per-client rate traces and length distributions.

Reads ``servegen_data.tar.xz`` (the ServeGen release bundled under ``serving/servegen``) into
``tokenomy.serving.servegen.ServeGenClient`` values: each client's 6-hour windows of rate and
burstiness, and its input/output length PMFs. Every malformed member is a one-line ``SchemaError``
naming the archive and the member. I/O lives here; the serving layer only models.

The archive is read in place (no extraction): per client ``chunk-<id>-trace.csv`` rows
``window_start_s, rate_rps, cv, pattern, p1, p2`` (no header) and ``chunk-<id>-dataset.json``
``{window_start_s: {"input_tokens": "{tokens: prob, ...}", "output_tokens": "..."}}`` (the PMFs are
stored as text); clients without a dataset file are skipped and reported.
"""

from __future__ import annotations

import csv
import io
import lzma
import re
import tarfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from tokenomy.core.errors import SchemaError
from tokenomy.interfaces.loaders import reader
from tokenomy.serving.servegen import LengthPMF, ServeGenClient

__all__ = ["SERVEGEN_FILE", "load_servegen"]

SERVEGEN_FILE = "serving/servegen/servegen_data.tar.xz"


_PAIR = re.compile(r"([0-9.eE+-]+)\s*:\s*([0-9.eE+-]+)")


def _pmf(path: Path, member: str, raw: Any) -> LengthPMF | None:
    """A PMF from a JSON object or from the "{tokens: prob, ...}" text ServeGen stores."""
    if isinstance(raw, str):
        pairs = _PAIR.findall(raw)
        if raw.strip() not in ("", "{}") and not pairs:
            raise SchemaError(f"{path}: {member}: a length PMF must read '{{tokens: prob, ...}}'")
        raw = dict(pairs)
    if not isinstance(raw, dict) or not raw:
        return None
    try:
        tok = np.array([int(float(k)) for k in raw], np.int64)
        prob = np.array([float(v) for v in raw.values()])
    except (TypeError, ValueError, OverflowError):
        raise SchemaError(
            f"{path}: {member}: a length PMF must map token counts (finite whole numbers) to numbers"
        ) from None
    if not np.isfinite(prob).all() or (prob < 0).any():
        raise SchemaError(f"{path}: {member}: a length PMF's probabilities must be finite numbers ≥ 0")
    keep = tok >= 1
    if not keep.any() or prob[keep].sum() <= 0:
        return None
    return LengthPMF(tok[keep], prob[keep])


_SG_COLS = ((0, "window_start_s"), (1, "rate_rps"), (2, "cv"), (4, "p1"), (5, "p2"))


def _servegen_trace(path: Path, member: str, text: str) -> tuple[np.ndarray[Any, Any], list[str]]:
    recs = [r for r in csv.reader(io.StringIO(text)) if r]
    if not recs:
        raise SchemaError(f"{path}: {member}: no rows")
    try:
        arr = np.array([[float(r[k]) for k, _ in _SG_COLS] for r in recs if len(r) == 6])
        ok = arr.shape[0] == len(recs) and bool(np.isfinite(arr).all()) and bool((arr[:, 1] >= 0).all())
    except ValueError:
        ok = False
    if not ok:  # find the first bad line and name it
        where = Path(f"{path}:{member}")
        for lineno, rec in enumerate(recs, start=1):
            if len(rec) != 6:
                raise SchemaError(
                    f"{path}: {member}: line {lineno}: expected 6 fields "
                    f"(window_start_s, rate_rps, cv, pattern, p1, p2), got {len(rec)}"
                )
            vals = [reader.float_field(rec[k], f"{where}: line {lineno}", c) for k, c in _SG_COLS]
            if vals[1] < 0:
                raise SchemaError(f"{path}: {member}: line {lineno}: field 'rate_rps' must be ≥ 0")
        raise SchemaError(f"{path}: {member}: malformed rows")
    return arr, [r[3].strip() for r in recs]


def load_servegen(
    path: Path, *, category: str = "language/m-large", top: int = 10
) -> tuple[list[ServeGenClient], list[str]]:
    """The ``top`` clients of ``category`` by expected requests, from the ServeGen archive.

    Args:
        path: ``servegen_data.tar.xz`` (or an extracted folder's tar).
        category: the folder under ``data/`` (``language/m-large``, ``language/m-mid``, ``reason/deepseek-r1`` ...).
        top: how many clients to keep (most requests first).

    Returns:
        (clients, notes): notes say which clients had no length file and were skipped.

    Raises:
        SchemaError: not a readable archive, no such category, or a malformed member (named).
    """
    prefix = f"data/{category.strip('/')}/"
    pat = re.compile(r"chunk-(\d+)-(trace\.csv|dataset\.json)$")
    traces: dict[str, str] = {}
    datasets: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:*") as tf:
            for m in tf:
                if not (m.isfile() and m.name.startswith(prefix)):
                    continue
                hit = pat.search(m.name)
                fh = tf.extractfile(m)
                if hit is None or fh is None:
                    continue
                data = fh.read()
                if hit.group(2) == "trace.csv":
                    try:
                        traces[hit.group(1)] = data.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        raise SchemaError(
                            f"{path}: {m.name}: byte offset {exc.start}: not UTF-8; expected UTF-8 CSV"
                        ) from None
                else:
                    datasets[hit.group(1)] = data
    except tarfile.ReadError as exc:
        if "could not be opened" not in str(exc):  # (that message lists each compression tried)
            raise SchemaError(f"{path}: not a readable ServeGen archive ({exc})") from None
        raise SchemaError(
            f"{path}: not a readable ServeGen archive (not a tar file, plain or gzip/bzip2/xz); "
            "expected ServeGen's servegen_data.tar.xz"
        ) from None
    except (tarfile.TarError, OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
        why = " ".join(str(exc).split())
        raise SchemaError(f"{path}: not a readable ServeGen archive ({why})") from None
    if not traces:
        raise SchemaError(f"{path}: no client traces under {prefix!r} (expected chunk-<id>-trace.csv)")
    stats = {cid: _servegen_trace(path, f"chunk-{cid}-trace.csv", text) for cid, text in traces.items()}
    ranked = sorted(stats, key=lambda cid: (-float(stats[cid][0][:, 1].sum()), int(cid)))
    notes: list[str] = []
    clients: list[ServeGenClient] = []
    for cid in ranked:
        if len(clients) >= top:
            break
        if cid not in datasets:
            notes.append(f"ServeGen {category} client {cid}: no length file in the archive; skipped")
            continue
        member = f"chunk-{cid}-dataset.json"
        try:
            text = datasets[cid].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SchemaError(
                f"{path}: {member}: byte offset {exc.start}: not UTF-8; expected UTF-8 JSON"
            ) from None
        doc = reader.parse_json(text, f"{path}: {member}")
        if not isinstance(doc, dict) or not doc or not all(isinstance(v, dict | None) for v in doc.values()):
            raise SchemaError(f"{path}: {member}: expected an object keyed by window start (seconds)")
        starts = {k: reader.float_field(k, f"{path}: {member}", "window start") for k in doc}
        keys = sorted(doc, key=lambda k: starts[k])
        ins = tuple(_pmf(path, member, (doc[k] or {}).get("input_tokens")) for k in keys)
        outs = tuple(_pmf(path, member, (doc[k] or {}).get("output_tokens")) for k in keys)
        if all(p is None for p in ins) or all(p is None for p in outs):
            notes.append(f"ServeGen {category} client {cid}: empty length distributions; skipped")
            continue
        arr, pats = stats[cid]
        clients.append(
            ServeGenClient(
                f"client-{cid}",
                arr[:, 0],
                arr[:, 1],
                arr[:, 2],
                tuple(pats),
                arr[:, 3],
                arr[:, 4],
                np.array([starts[k] for k in keys]),
                ins,
                outs,
            )
        )
    return clients, notes
