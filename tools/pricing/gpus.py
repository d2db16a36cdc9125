"""The GPU reference table (pricing.md §5) and the names catalogs use for the same cards.

Keys are lower-case Akash model names (the ``model`` segment of ``vendor/nvidia/model/<m>``, the same
vocabulary as ``tools.request.GPU_MODELS``). A model can have several variants (H100 SXM / PCIe, A100 40 /
80 GB); :func:`gpu_spec` picks one from an interface or memory hint, else the first listed.

Every model also has a class (:data:`GPU_CLASSES`, :func:`gpu_class`), the ``gpu_class`` hard filter of
``tools.pricing.rank.OfferFilters``: ``datacenter`` (passively cooled server cards: H/B/A100-class, L40S,
L4, A10, T4, V100 ...), ``workstation`` (professional desktop cards: RTX A6000/A5000/A4000, RTX 6000 Ada)
and ``consumer`` (GeForce: RTX 3080/3090/4090/5090).

Figures are dense BF16/FP16 tensor TFLOPS without sparsity. ``eta`` is the fraction of peak a real matmul
reaches (pricing.md §2: 0.8 for H100-class, 0.87 for A100, 0.75 default). Rows marked ``datasheet`` are not
in pricing.md §5; they come from the NVIDIA datasheets (dense = half the "with sparsity" figure).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, NamedTuple

ETA_H100_CLASS = Decimal("0.8")
ETA_A100 = Decimal("0.87")
ETA_DEFAULT = Decimal("0.75")


@dataclass(frozen=True)
class GpuSpec:
    key: str  # Akash model name
    label: str
    dense_bf16_tflops: Decimal
    memory_gb: int
    bandwidth_tb_s: Decimal
    eta: Decimal = ETA_DEFAULT
    interface: str | None = None  # "sxm", "pcie", "nvl" when the model has variants
    source: str = "pricing.md §5"

    @property
    def effective_pflops(self) -> Decimal:
        """Sustained dense PFLOPS of one card: ``eta * peak``."""
        return self.dense_bf16_tflops * self.eta / 1000


def _d(text: str) -> Decimal:
    return Decimal(text)


# First entry of a key is its default variant.
# fmt: off
GPU_SPECS: tuple[GpuSpec, ...] = (
    GpuSpec("h200", "H200 SXM", _d("989"), 141, _d("4.8"), ETA_H100_CLASS, "sxm"),
    GpuSpec("h100", "H100 SXM", _d("989"), 80, _d("3.35"), ETA_H100_CLASS, "sxm"),
    GpuSpec("h100", "H100 PCIe", _d("756"), 80, _d("2.0"), ETA_H100_CLASS, "pcie"),
    GpuSpec("h100", "H100 NVL", _d("835"), 94, _d("3.9"), ETA_H100_CLASS, "nvl", "datasheet"),
    GpuSpec("a100", "A100 80GB SXM", _d("312"), 80, _d("2.04"), ETA_A100, "sxm"),
    GpuSpec("a100", "A100 80GB PCIe", _d("312"), 80, _d("1.94"), ETA_A100, "pcie"),
    GpuSpec("a100", "A100 40GB", _d("312"), 40, _d("1.56"), ETA_A100),
    GpuSpec("l40s", "L40S", _d("362"), 48, _d("0.864")),
    GpuSpec("a6000", "RTX A6000", _d("154.8"), 48, _d("0.768")),
    GpuSpec("rtx4090", "RTX 4090", _d("165"), 24, _d("1.01")),
    GpuSpec("rtx3090", "RTX 3090", _d("71"), 24, _d("0.936")),
    GpuSpec("a10", "A10", _d("125"), 24, _d("0.6")),
    GpuSpec("a10", "A10G", _d("70"), 24, _d("0.6"), interface="a10g"),
    GpuSpec("t4", "T4", _d("65"), 16, _d("0.32")),
    GpuSpec("v100", "V100 16GB", _d("125"), 16, _d("0.9")),
    GpuSpec("v100", "V100 32GB", _d("125"), 32, _d("0.9")),
    # Not in pricing.md §5 (NVIDIA datasheets, dense figures).
    GpuSpec("gh200", "GH200", _d("989"), 96, _d("4.0"), ETA_H100_CLASS, source="datasheet"),
    GpuSpec("b200", "B200", _d("2250"), 180, _d("8.0"), ETA_H100_CLASS, source="datasheet"),
    GpuSpec("l40", "L40", _d("181"), 48, _d("0.864"), source="datasheet"),
    GpuSpec("l4", "L4", _d("121"), 24, _d("0.3"), source="datasheet"),
    GpuSpec("a40", "A40", _d("149.7"), 48, _d("0.696"), source="datasheet"),
    GpuSpec("a30", "A30", _d("165"), 24, _d("0.933"), source="datasheet"),
    GpuSpec("a5000", "RTX A5000", _d("111"), 24, _d("0.768"), source="datasheet"),
    GpuSpec("a4000", "RTX A4000", _d("76.7"), 16, _d("0.448"), source="datasheet"),
    GpuSpec("rtx5090", "RTX 5090", _d("209.5"), 32, _d("1.79"), source="datasheet"),
)
# fmt: on

GPU_TABLE: dict[str, tuple[GpuSpec, ...]] = {}
for _spec in GPU_SPECS:
    GPU_TABLE[_spec.key] = (*GPU_TABLE.get(_spec.key, ()), _spec)

GpuClass = Literal["datacenter", "workstation", "consumer"]
GPU_CLASS_NAMES: tuple[str, ...] = GpuClass.__args__  # type: ignore[attr-defined]

# Every key of GPU_TABLE, of tools.request.GPU_MODELS and of the catalog names below has a class.
# fmt: off
GPU_CLASSES: dict[str, GpuClass] = {
    "h200": "datacenter", "h100": "datacenter", "gh200": "datacenter", "b200": "datacenter",
    "b300": "datacenter", "a100": "datacenter", "a800": "datacenter", "l40s": "datacenter",
    "l40": "datacenter", "l4": "datacenter", "a40": "datacenter", "a30": "datacenter", "a10": "datacenter",
    "t4": "datacenter", "v100": "datacenter", "p100": "datacenter",
    "a6000": "workstation", "a5000": "workstation", "a4500": "workstation", "a4000": "workstation",
    "rtx6000ada": "workstation", "rtx6000": "workstation", "rtxpro6000": "workstation",
    "rtx5090": "consumer", "rtx4090": "consumer", "rtx3090": "consumer", "rtx3080": "consumer",
}
# fmt: on


def gpu_class(model: str | None) -> GpuClass | None:
    """``datacenter``, ``workstation`` or ``consumer`` for an Akash model name; None when unknown."""
    return GPU_CLASSES.get(model.lower()) if model else None


def gpu_spec(
    model: str | None, *, interface: str | None = None, memory_gib: float | None = None
) -> GpuSpec | None:
    """The reference figures for an Akash model name, or None for an unknown card.

    ``interface`` ("sxm4", "SXM5", "pcie", "nvl", "a10g") and ``memory_gib`` pick a variant; an unmatched
    hint falls back to the model's default (first) variant.
    """
    if not model:
        return None
    candidates = GPU_TABLE.get(model.lower(), ())
    if not candidates:
        return None
    # Memory first: "A100 40GB SXM4" must land on the 40 GB row, not on the 80 GB SXM one.
    if memory_gib is not None:
        by_memory = tuple(s for s in candidates if abs(s.memory_gb - memory_gib) < 8)
        candidates = by_memory or candidates
    if interface:
        wanted = interface.lower()
        wanted = "sxm" if wanted.startswith("sxm") else wanted
        by_interface = tuple(s for s in candidates if s.interface == wanted)
        candidates = by_interface or candidates
    return candidates[0]


class CatalogGpu(NamedTuple):
    """A catalog accelerator name resolved to Necto's vocabulary."""

    model: str  # Akash model name, or the lower-cased catalog name when Akash has no such key
    interface: str | None
    memory_gib: float | None


# Base names as they appear in SkyPilot catalogs (v8) and Lambda, upper-cased with separators removed.
# fmt: off
_CATALOG_BASES: dict[str, str] = {
    "H200": "h200", "H100": "h100", "GH200": "gh200", "B200": "b200", "B300": "b300",
    "A100": "a100", "A800": "a800", "L40S": "l40s", "L40": "l40", "L4": "l4",
    "A6000": "a6000", "RTXA6000": "a6000", "A5000": "a5000", "RTXA5000": "a5000",
    "A4000": "a4000", "RTXA4000": "a4000", "RTXA4500": "a4500",
    "RTX4090": "rtx4090", "RTX3090": "rtx3090", "RTX3080": "rtx3080", "RTX5090": "rtx5090",
    "A40": "a40", "A10": "a10", "A10G": "a10", "A30": "a30", "T4": "t4", "V100": "v100", "P100": "p100",
    "RTX6000ADA": "rtx6000ada", "RTX6000": "rtx6000", "RTXPRO6000": "rtxpro6000",
}
# fmt: on
_QUALIFIERS = {
    "PCIE",
    "SXM",
    "SXM4",
    "SXM5",
    "NVL",
    "NVLINK",
    "BAREMETAL",
    "LOW",
    "RAM",
    "HIGH",
    "PERF",
    "SECURE",
    "COMMUNITY",
    "MEGA",
    "WS",
    "WK",
    "NVIDIA",
    "TESLA",
    "GPU",
    "GEFORCE",  # io.net: "GeForce RTX 4090"
}
_MEMORY_TOKEN = re.compile(r"^(\d+)G(?:B|I|IB)?$")


def catalog_gpu(name: str | None, hint: str = "") -> CatalogGpu | None:
    """Map a catalog accelerator name ("A100-80GB", "H100_SXM5", "RTX6000-Ada", "A10G") to an Akash key.

    ``hint`` is any extra text that may name the interface or memory (a SkyPilot ``GpuInfo`` cell, a Lambda
    ``gpu_description``); the name itself wins over the hint. Returns None for an empty name (CPU-only).
    """
    if not name or not name.strip():
        return None
    tokens = [t for t in re.split(r"[-_\s]+", name.strip().upper()) if t]
    interface: str | None = None
    memory: float | None = None
    base_parts: list[str] = []
    for token in tokens:
        mem = _MEMORY_TOKEN.match(token)
        if mem:
            memory = float(mem.group(1))
        elif token in _QUALIFIERS:
            if token.startswith("SXM"):
                interface = "sxm"
            elif token == "PCIE":
                interface = "pcie"
            elif token in ("NVL", "NVLINK") and interface is None:
                interface = "nvl"
        else:
            base_parts.append(token)
    base = "".join(base_parts)
    if base == "A10G":
        interface = "a10g"
    if interface is None and hint:
        upper = hint.upper()
        if "SXM" in upper:
            interface = "sxm"
        elif "PCIE" in upper:
            interface = "pcie"
        elif "NVL" in upper:
            interface = "nvl"
    if memory is None and hint:
        found = re.search(r"(\d+)\s*GB", hint.upper())
        if found:
            memory = float(found.group(1))
    if memory is None and base == "A100":
        memory = 40.0  # SkyPilot's bare "A100" is the 40 GB card; the 80 GB one is "A100-80GB"
    model = _CATALOG_BASES.get(base, base.lower())
    return CatalogGpu(model, interface, memory)
