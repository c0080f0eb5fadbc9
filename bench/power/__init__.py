"""Power and energy: sensors behind one protocol, a sampler thread, and read-time attribution.

Modules: ``base`` (``PowerSensor``, ``PowerSample``), one reader per sensor family (``nvml``,
``jetson_ina3221``, ``apple_powermetrics``, ``apple_macmon``, ``rapl``, ``amdgpu_hwmon``, ``csv_trace``,
``estimate``), ``registry`` (names, ``auto``, doctor probes), ``sampler`` (the thread writing
``power.csv``), ``meter`` (one run's metering), ``trace`` (the ``power.csv`` format), ``attribution``
(energy per request, pure) and ``records`` (attribution applied to a bundle's records).

Nothing is imported here, so ``bench.power.nvml`` + ``sampler`` + ``attribution`` work on a machine with
only the standard library, numpy and nvidia-ml-py.
"""
