"""`make bench`: every benchmark, one after the other, printing its figures."""

from __future__ import annotations

from benchmarks import bench_generate, bench_pipeline


def main() -> None:
    bench_generate.main([])
    bench_pipeline.main([])


if __name__ == "__main__":
    main()
