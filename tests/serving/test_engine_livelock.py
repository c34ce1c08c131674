"""A KV pool too small for the decode step after an admission: the clock still advances.

Admitting a fresh prefill can leave too few KV blocks for the decode step of the running requests;
the engine must not then preempt that same request and admit it again at the same clock forever.
Each test bounds the engine passes (or runs in a subprocess with a timeout), so a regression fails
instead of hanging.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tokenomy.serving import COMPLETED, REJECTED, Engine, EngineConfig, Workload
from tokenomy.serving.schedulers import make_scheduler
from tokenomy.serving.workloads import make_workload

# each pass at a fixed clock removes a request from the running set (a preemption) or runs a step,
# so at most max_num_seqs + a few passes go by without the clock moving
_STALL_PASSES = 300


def _tight(n: int = 40, kv_blocks: int = 100) -> tuple[Engine, Workload]:
    wl = make_workload("tight", np.zeros(n), [16] * n, [64] * n)
    return Engine(config=EngineConfig(kv_blocks=kv_blocks, prefix_cache=False)), wl


@pytest.mark.parametrize("scheduler", ["fcfs", "spf", "priced"])
def test_small_kv_pool_clock_always_advances_and_every_request_completes(scheduler: str) -> None:
    engine, wl = _tight()
    s = engine.session(make_scheduler(scheduler))
    s.add_workload(wl)
    stall, passes = 0, 0
    while passes < 100_000:
        passes += 1
        st = s.step()
        if st.idle:
            break
        stall = stall + 1 if st.end_s == st.start_s else 0
        assert stall < _STALL_PASSES, f"clock stuck at {st.end_s} s after {passes} passes"
    assert passes < 100_000
    r = s.finish()
    served = r.status == COMPLETED
    assert bool(np.all(served | (r.status == REJECTED))) and served.sum() > 0  # priced may reject
    if scheduler != "priced":
        assert bool(np.all(served))
    assert bool(np.all(r.finish_s[served] > 0))


def test_small_kv_pool_batch_run_terminates() -> None:
    code = textwrap.dedent(
        """
        import numpy as np
        from tokenomy.serving import COMPLETED, Engine, EngineConfig
        from tokenomy.serving.schedulers import make_scheduler
        from tokenomy.serving.workloads import make_workload
        n = 200
        wl = make_workload("tight", np.linspace(0.0, 2.0, n), [16] * n, [64] * n)
        r = Engine(config=EngineConfig(kv_blocks=100)).run(wl, make_scheduler("fcfs"))
        print(int(np.sum(r.status == COMPLETED)), r.steps)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "200"


def test_small_kv_pool_with_shared_prefixes_clock_always_advances() -> None:
    n = 40
    hashes = [np.array([0, 1 + i], np.int64) for i in range(n)]  # one shared block, one own
    wl = make_workload("tight-prefix", np.zeros(n), [32] * n, [64] * n, hash_ids=hashes, hash_block_tokens=16)
    s = Engine(config=EngineConfig(kv_blocks=100, prefix_cache=True)).session(make_scheduler("fcfs"))
    s.add_workload(wl)
    stall = 0
    for _ in range(100_000):
        st = s.step()
        if st.idle:
            break
        stall = stall + 1 if st.end_s == st.start_s else 0
        assert stall < _STALL_PASSES, f"clock stuck at {st.end_s} s"
    r = s.finish()
    assert bool(np.all(r.status == COMPLETED))
