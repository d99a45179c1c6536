"""HTTP clients of the systems Ripple reads and drives, Airflow and Marquez: retries, tokens,
paging, and their failures translated into Ripple's errors."""
