"""Clients of the outside systems Ripple drives or reads (Airflow's REST API): the network calls,
their retries and the translation of their errors into Ripple's tree, at the bottom of the
layers (nothing here imports the rest of Ripple but its errors and values)."""
