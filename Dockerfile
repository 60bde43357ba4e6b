# lesync on the official Airflow image: the pinned requirements, then lesync itself (no deps).
#   docker compose build        (docker-compose.yaml builds this for every Airflow service)
# See https://airflow.apache.org/docs/docker-stack/build.html ("Extending the image").
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11
FROM ${AIRFLOW_IMAGE}

# Optional extras for object-storage staging, e.g. --build-arg LESYNC_EXTRA_PIP="s3fs" (S3) or
# "gcsfs" (GCS), together with the matching Airflow provider (apache-airflow-providers-amazon /
# -google) for the connection the staging root uses.
ARG LESYNC_EXTRA_PIP=""

USER airflow
COPY --chown=airflow:0 requirements.txt /opt/lesync-src/requirements.txt
# apache-airflow==3.3.2 is pinned in requirements.txt, so pip cannot up- or downgrade Airflow.
RUN pip install --no-cache-dir -r /opt/lesync-src/requirements.txt ${LESYNC_EXTRA_PIP}

COPY --chown=airflow:0 pyproject.toml README.m[d] /opt/lesync-src/
COPY --chown=airflow:0 plugins/ /opt/lesync-src/plugins/
RUN pip install --no-cache-dir --no-deps /opt/lesync-src

# Mount points that become named volumes start out owned by the airflow user.
RUN mkdir -p /opt/airflow/staging /opt/airflow/auth /opt/airflow/emulators /opt/airflow/include
