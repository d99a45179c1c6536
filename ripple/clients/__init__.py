"""HTTP clients of the systems Ripple reads and drives, Airflow and Marquez: the network calls,
their retries, tokens and paging, and the translation of their errors into Ripple's tree. At the
bottom of the layers: nothing here imports the rest of Ripple but its errors."""
