"""The imaging engine: renditions and validation, ours against the bare library calls.

- Renditions (in-process, alternating call by call): ``imaging.render.render`` against the
  fastest bare call measured in the same run, pyvips ``Image.thumbnail_buffer`` + save, and
  Pillow ``draft()`` + ``thumbnail()`` + save, for a 12-megapixel photo-like JPEG (gradients and
  noise, ~3-4 MB) to fit 256 px as JPEG q80 and WebP q80; also a 7000x7000 PNG and the first
  frame of a 1,000-frame GIF. The target is median(ours) / median(fastest bare) <= 1.2.
- Peak memory of one rendition: each engine in a fresh subprocess, its peak resident size
  during one rendition minus its resident size after the imports, the input bytes and a tiny
  warm-up rendition (libvips allocates outside Python's heap, so tracemalloc would not see it).
  The peak is ``VmHWM`` from /proc, reset just before the rendition (``clear_refs``):
  ``ru_maxrss`` cannot be used, Linux carries it over from the parent across fork and exec.
- Memory over a burst (report only): renditions of different originals in one fresh process,
  peak and resident growth left afterwards, with libvips' operation cache off (as shipped) or
  at its default, with and without the budget's ``malloc_trim`` once idle.
- Concurrency (report only): renditions of the JPEG from 1 and 2 threads with libvips at 1
  and 2 worker threads per operation.
- Validation (report only): a full decode of the same bytes by Pillow (``load()``) and by
  libvips (sequential, ``fail_on=error``), and ``imaging.inspect_image`` as shipped (Pillow
  identifies, libvips decodes stills), for the 12 MP JPEG and a 49 MP PNG: time, peak memory.
"""

from __future__ import annotations

import functools
import io
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import Config, Result, Table, Target, median, ms, temp_dir

NAME = "imaging"
TARGET_RATIO = 1.2
BOX = 256
QUALITY = 80


# -- inputs ------------------------------------------------------------------------------------


def photo_jpeg(width: int = 4000, height: int = 3000, *, quality: int = 88) -> bytes:
    """A photo-like JPEG: smooth gradients (what compresses) under sensor-like noise (what does not)."""
    from PIL import Image, ImageChops

    gradient = Image.linear_gradient("L").resize((width, height))
    radial = Image.radial_gradient("L").resize((width, height))
    bands = [
        ImageChops.add(base, Image.effect_noise((width, height), 22), scale=2.0)
        for base in (gradient, radial, gradient.transpose(Image.Transpose.ROTATE_180))
    ]
    out = io.BytesIO()
    Image.merge("RGB", bands).save(out, "JPEG", quality=quality)
    return out.getvalue()


def large_png(side: int = 7000) -> bytes:
    """A 49-megapixel RGB PNG of gradients (noise would make it hundreds of MB)."""
    from PIL import Image

    gradient = Image.linear_gradient("L").resize((side, side))
    radial = Image.radial_gradient("L").resize((side, side))
    out = io.BytesIO()
    Image.merge("RGB", (gradient, radial, gradient.transpose(Image.Transpose.ROTATE_90))).save(
        out, "PNG", compress_level=3
    )
    return out.getvalue()


def many_frame_gif(frames: int = 1000, size: tuple[int, int] = (240, 180)) -> bytes:
    """A GIF of ``frames`` frames: one encoded frame's blocks repeated (Pillow would merge equal
    frames, and encoding a thousand different ones takes long)."""
    from PIL import Image

    out = io.BytesIO()
    first = Image.radial_gradient("L").resize(size).quantize(32, dither=Image.Dither.NONE)
    first.save(out, "GIF", duration=40)
    data = out.getvalue()
    flags = data[10]
    start = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    frame = data[start:-1]  # graphic control extension + image descriptor + image data
    return data[:start] + frame * frames + b";"


# -- the engines -------------------------------------------------------------------------------


def ours(data: bytes, fmt: str) -> bytes:
    from image_service.imaging.render import RenderSpec, render

    return render(data, RenderSpec(BOX, BOX, format=fmt, quality=QUALITY)).data


def bare_vips(data: bytes, fmt: str) -> bytes:
    import pyvips

    suffix = ".jpg" if fmt == "jpeg" else f".{fmt}"
    encoded: bytes = pyvips.Image.thumbnail_buffer(data, BOX, height=BOX).write_to_buffer(suffix, Q=QUALITY)
    return encoded


def bare_pillow(data: bytes, fmt: str) -> bytes:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        img.draft("RGB", (BOX, BOX))  # JPEG: DCT scaling on load; a no-op for the others
        frame = img.convert("RGB")
        frame.thumbnail((BOX, BOX))
        out = io.BytesIO()
        frame.save(out, fmt.upper(), quality=QUALITY)
        return out.getvalue()


ENGINES: dict[str, Callable[[bytes, str], bytes]] = {
    "ours (render)": ours,
    "pyvips thumbnail_buffer": bare_vips,
    "Pillow draft+thumbnail": bare_pillow,
}


def validate_pillow(data: bytes) -> None:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        img.load()


def validate_ours(data: bytes) -> None:
    from image_service.imaging import inspect_image

    inspect_image(data, max_bytes=len(data), max_pixels=100_000_000)


def validate_vips(data: bytes) -> None:
    import pyvips

    pyvips.Image.new_from_buffer(data, "", access="sequential", fail_on="error").avg()


VALIDATORS: dict[str, Callable[[bytes], None]] = {
    "Pillow load()": validate_pillow,
    "libvips sequential": validate_vips,
    "inspect_image": validate_ours,
}


# -- measuring ---------------------------------------------------------------------------------


def _alternating(calls: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in calls}
    for call in calls.values():  # warm-up: libraries loaded, code paged in
        call()
    for _ in range(rounds):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - started)
    return times


def _peak_kib(kind: str, engine: str, path: Path, fmt: str) -> int:
    """Peak resident growth (KiB) of one rendition or validation in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_imaging", "--child", kind, engine, str(path), fmt],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return int(json.loads(done.stdout.strip().splitlines()[-1])["peak_kib"])


def _child(kind: str, engine: str, path: str, fmt: str) -> None:
    data = Path(path).read_bytes()
    tiny = io.BytesIO()
    from PIL import Image

    Image.new("RGB", (64, 48), (10, 20, 30)).save(tiny, "JPEG")
    if kind == "render":
        run: Callable[[], object] = lambda: ENGINES[engine](data, fmt)  # noqa: E731
        ENGINES[engine](tiny.getvalue(), fmt)
    else:
        run = lambda: VALIDATORS[engine](data)  # noqa: E731
        VALIDATORS[engine](tiny.getvalue())
    Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) restarts from the current RSS
    before = _status_kib("VmRSS")
    run()
    print(json.dumps({"peak_kib": _status_kib("VmHWM") - before}))


BURSTS = {
    "as shipped: cache off, budget (malloc_trim when idle)": ("off", True),
    "cache off, no budget (no trim)": ("off", False),
    "libvips default cache (100 operations), budget": ("default", True),
}


def _burst(setting: str, paths: list[str]) -> dict[str, int]:
    """Renditions of several different originals one after the other (as a burst of requests
    for new thumbnails): the peak and the resident size left once it is over."""
    import pyvips

    from image_service.imaging.budget import PixelBudget
    from image_service.imaging.render import RenderSpec, render

    cache, budgeted = BURSTS[setting]
    if cache == "default":
        pyvips.cache_set_max(100)
    budget = PixelBudget(100_000_000) if budgeted else None
    originals = [Path(path).read_bytes() for path in paths]
    before = _status_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    for index, data in enumerate(originals * 2):
        # A different trailing byte makes each buffer a new one for libvips' cache.
        render(data + bytes([index]), RenderSpec(BOX, BOX, format="jpeg"), budget=budget)
    return {"peak_kib": _status_kib("VmHWM") - before, "after_kib": _status_kib("VmRSS") - before}


def _burst_table(paths: list[Path]) -> Table:
    table = Table(
        f"Memory over a burst of {2 * len(paths)} renditions (12 MP JPEG, 49 MP PNG, GIF), one process (MiB)",
        ["setting", "peak RSS growth", "RSS growth left after the burst"],
    )
    for setting in BURSTS:
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_imaging", "--burst", setting, *map(str, paths)],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        table.add(setting, round(figures["peak_kib"] / 1024, 1), round(figures["after_kib"] / 1024, 1))
    return table


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _concurrency(data: bytes, renders: int) -> Table:
    import pyvips

    table = Table(
        "12 MP JPEG to 256 px JPEG under concurrency: libvips threads per operation",
        ["libvips threads", "request threads", "ms per rendition (wall / count)", "renditions / s"],
    )
    original = pyvips.concurrency_get()
    try:
        for vips_threads in (1, 2):
            pyvips.concurrency_set(vips_threads)
            for callers in (1, 2):
                ours(data, "jpeg")

                def work() -> None:
                    for _ in range(renders):
                        ours(data, "jpeg")

                threads = [threading.Thread(target=work) for _ in range(callers)]
                started = time.perf_counter()
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                elapsed = time.perf_counter() - started
                count = renders * callers
                table.add(vips_threads, callers, ms(elapsed / count), round(count / elapsed, 1))
    finally:
        pyvips.concurrency_set(original)
    table.notes.append(f"the service runs 1 libvips thread per operation (imaging/vips.py); {renders} each")
    return table


def run(cfg: Config, log: Callable[[str], None] = print) -> Result:
    result = Result(NAME)
    rounds = 5 if cfg.quick else 15
    log("  making inputs: 12 MP JPEG, 49 MP PNG, 1,000-frame GIF")
    jpeg, png, gif = photo_jpeg(), large_png(), many_frame_gif()
    result.details.update(jpeg_bytes=len(jpeg), png_bytes=len(png), gif_bytes=len(gif), rounds=rounds)
    cases = [
        (f"12 MP JPEG ({len(jpeg) / 1e6:.1f} MB) -> JPEG q80", jpeg, "jpeg", True),
        (f"12 MP JPEG ({len(jpeg) / 1e6:.1f} MB) -> WebP q80", jpeg, "webp", True),
        (f"7000x7000 PNG ({len(png) / 1e6:.1f} MB) -> JPEG q80", png, "jpeg", False),
        (f"1,000-frame GIF ({len(gif) / 1e6:.1f} MB), first frame -> JPEG q80", gif, "jpeg", False),
    ]
    times = Table(
        f"Rendition to fit {BOX} px, in-process, median of {rounds} (ms)",
        ["input -> output", *ENGINES, "ours / fastest bare", "same, best of each"],
    )
    memory = Table(
        "Peak memory of one rendition (peak RSS growth in a fresh process, MiB)",
        ["input -> output", *ENGINES],
    )
    with temp_dir("imaging") as tmp:
        inputs = []
        for number, data in enumerate((jpeg, png, gif)):
            inputs.append(Path(tmp) / f"burst-{number}")
            inputs[-1].write_bytes(data)
        log("  memory over a burst")
        burst = _burst_table(inputs)
        for label, data, fmt, targeted in cases:
            log(f"  {label}")
            path = Path(tmp) / f"input-{len(data)}"
            path.write_bytes(data)
            series = _alternating(
                {name: functools.partial(engine, data, fmt) for name, engine in ENGINES.items()}, rounds
            )
            medians = {name: median(values) for name, values in series.items()}
            fastest = min(value for name, value in medians.items() if name != "ours (render)")
            ratio = medians["ours (render)"] / fastest
            best = {name: min(values) for name, values in series.items()}
            best_ratio = best["ours (render)"] / min(v for name, v in best.items() if name != "ours (render)")
            times.add(
                label, *(ms(value) for value in medians.values()), round(ratio, 2), round(best_ratio, 2)
            )
            memory.add(label, *(round(_peak_kib("render", name, path, fmt) / 1024, 1) for name in ENGINES))
            if targeted:
                result.targets.append(Target(f"render / fastest bare, {label}", f"<= {TARGET_RATIO}",
                                             f"{ratio:.2f}", ratio <= TARGET_RATIO))  # fmt: skip
        times.notes.append("the target is on medians; the best-of ratio shows the engines' cost without "
                           "the noise of a loaded machine")  # fmt: skip
        times.notes.append("bare pyvips saves with libvips defaults (keeps metadata); ours strips it, "
                           "exports sRGB and optimises JPEG Huffman tables")  # fmt: skip
        validation = Table(
            "Validation: a full decode of the upload (report only)",
            ["input", *(f"{name} ms" for name in VALIDATORS), *(f"{name} MiB" for name in VALIDATORS)],
        )
        for label, data in (
            (f"12 MP JPEG ({len(jpeg) / 1e6:.1f} MB)", jpeg),
            (f"49 MP PNG ({len(png) / 1e6:.1f} MB)", png),
        ):
            log(f"  validation: {label}")
            path = Path(tmp) / f"validate-{len(data)}"
            path.write_bytes(data)
            series = _alternating(
                {name: functools.partial(check, data) for name, check in VALIDATORS.items()},
                max(3, rounds // 3),
            )
            peaks = [round(_peak_kib("validate", name, path, "-") / 1024, 1) for name in VALIDATORS]
            validation.add(label, *(ms(median(values)) for values in series.values()), *peaks)
    log("  concurrency")
    result.tables = [times, memory, burst, validation, _concurrency(jpeg, 4 if cfg.quick else 10)]
    return result


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--child":
        _child(*sys.argv[2:6])
    elif len(sys.argv) > 3 and sys.argv[1] == "--burst":
        print(json.dumps(_burst(sys.argv[2], sys.argv[3:])))
    else:
        from benchmarks.common import render_text

        outcome = run(Config(quick="--quick" in sys.argv))
        for table in outcome.tables:
            print(render_text(table.as_dict()) + "\n")
        for target in outcome.targets:
            print(
                f"[{'MET' if target.met else 'NOT MET'}] {target.what}: "
                f"{target.measured} (target {target.target})"
            )
