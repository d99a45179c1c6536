-- Runs once, when the postgres service starts on an empty volume (docker-entrypoint-initdb.d).
-- One role and one database per consumer; the passwords are local-sandbox defaults (the port is
-- published on 127.0.0.1 only). To change them, edit this file and recreate the volume:
--   docker compose down -v && docker compose up -d

CREATE ROLE ripple LOGIN PASSWORD 'ripple';
CREATE DATABASE ripple OWNER ripple;        -- Ripple's event log (RIPPLE_DATABASE_URL)

CREATE ROLE airflow LOGIN PASSWORD 'airflow';
CREATE DATABASE airflow OWNER airflow;      -- Airflow's metadata database

CREATE ROLE warehouse LOGIN PASSWORD 'warehouse';
CREATE DATABASE warehouse OWNER warehouse;  -- what the example DAGs read and write

CREATE ROLE marquez LOGIN PASSWORD 'marquez';
CREATE DATABASE marquez OWNER marquez;      -- Marquez, only used with --profile marquez
