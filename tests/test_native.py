"""The native boundary itself: thread pools, n_jobs rules, fork safety."""

import os
import subprocess
import sys

import pytest

from rml import _rml


def test_version_is_exposed():
    import rml

    assert rml.__version__ == _rml.__version__


@pytest.mark.parametrize("n_jobs", [1, 2, 3])
def test_pool_has_requested_threads(n_jobs, monkeypatch):
    monkeypatch.delenv("RML_NUM_THREADS", raising=False)
    assert _rml.pool_thread_count(n_jobs) == n_jobs


def test_all_cores_by_default():
    if "RML_NUM_THREADS" in os.environ:
        pytest.skip("RML_NUM_THREADS caps the pool")
    assert _rml.effective_n_threads(None) == os.cpu_count()
    assert _rml.effective_n_threads(-1) == os.cpu_count()


def test_env_cap_is_honoured():
    code = "from rml import _rml; print(_rml.effective_n_threads(8), _rml.pool_thread_count(None))"
    env = dict(os.environ, RML_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.split() == ["1", "1"], out.stderr


def test_n_jobs_zero_is_a_value_error():
    with pytest.raises(ValueError):
        _rml.effective_n_threads(0)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_after_parallel_call_does_not_hang():
    code = (
        "import os, sys\n"
        "from rml import _rml\n"
        "_rml.pool_thread_count(2)\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os._exit(0 if _rml.pool_thread_count(2) == 2 else 1)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "sys.exit(os.waitstatus_to_exitcode(status))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr


def test_type_stub_lists_exactly_the_native_functions():
    """python/rml/_rml.pyi is the whole boundary in one file: keep it true."""
    import ast
    from pathlib import Path

    import rml

    stub = Path(rml.__file__).with_name("_rml.pyi").read_text()
    for node in ast.parse(stub).body:
        if isinstance(node, ast.ClassDef):
            declared = {f.name for f in node.body if isinstance(f, ast.FunctionDef)}
            actual = {f for f in dir(getattr(_rml, node.name)) if not f.startswith("_")}
            assert declared == actual, node.name
