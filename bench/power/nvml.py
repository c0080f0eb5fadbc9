"""NVIDIA discrete GPUs through NVML (nvidia-ml-py): the total-energy counter and instantaneous power.

``nvmlDeviceGetTotalEnergyConsumption`` (mJ since the driver loaded; Volta and newer) is the reference:
an energy counter, interpolated at request edges. It advances in steps of ~100 ms (measured on an H200),
so this sensor's period is 0.1 s and requests shorter than ~1 s get apportioned energy. Each sample also
carries ``NVML_FI_DEV_POWER_INSTANT`` (instantaneous mW): integrated at 100 Hz it lands within a fraction
of a percent of the counter for windows of 0.3 s and more (docs/figures.md), which
``tests/benchmarks/gpu_energy_check.py`` re-checks on real llama.cpp requests. ``nvmlDeviceGetPowerUsage``
is a 1-second average on Ampere and newer and is never used (it under-counts a 1 s task by ~33%).

Which GPUs: those CUDA sees (``CUDA_VISIBLE_DEVICES`` by index or UUID), summed; each is a rail.
Zeus reads the same counter; depending on it would add scikit-learn and tyro to the default install to
call two NVML functions, so nvidia-ml-py is used directly.

Order matters: on an H200 (under gVisor), ``nvmlInit`` before llama.cpp created its CUDA context made
``llama_model_load_from_file`` segfault; initialised after the model loaded, both worked. So runs open
their sensor after ``backend.load()`` (``bench.run.orchestrate.execute_run``). Each read cost ~4.5 ms there,
so 100 Hz sampling took ~45% of a core; the sampler now slows itself down after such a second
(``bench/power/sampler.py``), and ``--power-hz 10`` (the counter's own step) avoids even that second.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import time
from collections.abc import Callable
from typing import Any

from bench.power.base import Kind, PowerSample, SensorAbsent, SensorUnreadable

__all__ = ["Nvml", "visible_indices"]

NAME = "nvml"
COUNTER_PERIOD_S = 0.1


def _pynvml() -> Any:
    try:
        return importlib.import_module("pynvml")
    except ImportError:
        raise SensorAbsent(NAME, "nvidia-ml-py is not installed", fix="pip install nvidia-ml-py") from None


def visible_indices(nvml: Any, count: int) -> list[Any]:
    """Handles of the GPUs CUDA would use: ``CUDA_VISIBLE_DEVICES`` (indices or UUIDs), else all."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is None:
        return [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
    handles = []
    for item in (x.strip() for x in env.split(",")):
        if not item or item == "-1":
            break
        if item.isdigit():
            if int(item) < count:
                handles.append(nvml.nvmlDeviceGetHandleByIndex(int(item)))
        else:
            try:
                handles.append(nvml.nvmlDeviceGetHandleByUUID(item))
            except nvml.NVMLError:
                break
    return handles


class Nvml:
    """Total-energy counter (primary) plus instantaneous power, summed over the visible GPUs."""

    name = NAME
    estimated = False
    live = True

    def __init__(self, *, clock: Callable[[], int] = time.perf_counter_ns) -> None:
        nv = _pynvml()
        try:
            nv.nvmlInit()
        except nv.NVMLError as exc:
            no_perm = getattr(nv, "NVMLError_NoPermission", ())
            if isinstance(exc, no_perm):
                fix = "run as a user allowed to use the GPU"
                raise SensorUnreadable(NAME, f"NVML: {exc}", fix=fix) from None
            raise SensorAbsent(NAME, f"NVML unavailable ({exc})") from None
        self._nv = nv
        self._clock = clock
        self._open = True
        try:
            handles = visible_indices(nv, nv.nvmlDeviceGetCount())
            if not handles:
                raise SensorAbsent(NAME, "no NVIDIA GPU visible (CUDA_VISIBLE_DEVICES)")
            self._handles = handles
            self.gpu_names = [_text(nv.nvmlDeviceGetName(h)) for h in handles]
            self._field = getattr(nv, "NVML_FI_DEV_POWER_INSTANT", 186)
            self._has_counter = all(self._energy_mj(h) is not None for h in handles)
            self._has_instant = all(self._instant_w(h) is not None for h in handles)
        except nv.NVMLError as exc:
            self.close()
            raise SensorUnreadable(NAME, f"NVML: {exc}") from None
        except BaseException:
            self.close()
            raise
        if not self._has_counter and not self._has_instant:
            self.close()
            raise SensorUnreadable(
                NAME,
                "this GPU reports neither the total-energy counter nor instantaneous power",
                fix="use a Volta-or-newer GPU and a recent driver, or --power rapl/csv:FILE",
            )
        self.kind: Kind = "counter" if self._has_counter else "power"
        self.instant_power = self._has_instant  # sampled at the full rate beside the counter
        self.period_s = COUNTER_PERIOD_S if self._has_counter else 0.01
        self.rail_names = tuple(f"gpu{i}" for i in range(len(handles)))
        self._e0 = [self._energy_mj(h) or 0 for h in handles] if self._has_counter else []
        try:
            self.read()
        except nv.NVMLError as exc:
            self.close()
            raise SensorUnreadable(NAME, f"NVML: {exc}") from None

    def _energy_mj(self, handle: Any) -> int | None:
        try:
            return int(self._nv.nvmlDeviceGetTotalEnergyConsumption(handle))
        except self._nv.NVMLError:
            return None

    def _instant_w(self, handle: Any) -> float | None:
        try:
            v = self._nv.nvmlDeviceGetFieldValues(handle, [self._field])[0]
        except self._nv.NVMLError:
            return None
        if v.nvmlReturn != 0:
            return None
        return float(v.value.uiVal) / 1000.0

    def read(self) -> PowerSample:
        """One reading; an NVML error mid-run propagates (the sampler counts it and skips the sample)."""
        t = self._clock()
        nv = self._nv
        watts: tuple[float, ...] = ()
        if self._has_instant:
            values = [nv.nvmlDeviceGetFieldValues(h, [self._field])[0] for h in self._handles]
            if all(v.nvmlReturn == 0 for v in values):
                watts = tuple(float(v.value.uiVal) / 1000.0 for v in values)
        power = sum(watts) if watts else None
        if self._has_counter:
            rails = tuple(
                (int(nv.nvmlDeviceGetTotalEnergyConsumption(h)) - e0) / 1000.0
                for h, e0 in zip(self._handles, self._e0, strict=True)
            )
            return PowerSample(t_ns=t, power_w=power, energy_j=sum(rails), rails=rails)
        return PowerSample(t_ns=t, power_w=power, rails=watts or (float("nan"),) * len(self._handles))

    def info(self) -> dict[str, Any]:
        return {
            "total": "GPU board power of " + ", ".join(self.gpu_names),
            "rails_unit": "J (cumulative)" if self.kind == "counter" else "W",
            "counter": "nvmlDeviceGetTotalEnergyConsumption" if self._has_counter else None,
            "instant_power": "NVML_FI_DEV_POWER_INSTANT" if self._has_instant else None,
            "driver": _text(self._nv.nvmlSystemGetDriverVersion()) if self._open else None,
        }

    def close(self) -> None:
        if self._open:
            self._open = False
            with contextlib.suppress(self._nv.NVMLError):
                self._nv.nvmlShutdown()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
