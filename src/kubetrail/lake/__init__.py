"""The lake: audit events as hive-partitioned Parquet (zstd), queried with DuckDB or Spark."""
