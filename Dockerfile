# syntax=docker/dockerfile:1.7
# Wardgate image. The install step is `make install-runtime`, the same target CI exercises, so the image installs
# exactly the hash-pinned runtime lock. Targets: `runtime` (CPU, default) and `runtime-cuda` (onnxruntime-gpu).
#   docker build -t wardgate .                         docker build --target runtime-cuda -t wardgate:cuda .
ARG PYTHON_IMAGE=python:3.12.12-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends make gcc g++ \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md Makefile ./
COPY requirements/ requirements/
COPY proxy/ proxy/
RUN make install-runtime VENV=/opt/wardgate

FROM ${PYTHON_IMAGE} AS runtime
# A fixed, non-root UID: Kubernetes' runAsUser and the iptables rule that exempts Wardgate's own traffic use it.
ARG WARDGATE_UID=10001
RUN groupadd --gid ${WARDGATE_UID} wardgate \
    && useradd --uid ${WARDGATE_UID} --gid ${WARDGATE_UID} --no-create-home --shell /usr/sbin/nologin wardgate
COPY --from=build /opt/wardgate /opt/wardgate
COPY models/injection/model.int8.onnx models/injection/tokenizer.json models/injection/config.json \
     /opt/wardgate/models/injection/
COPY models/injection-ml/model.int8.onnx models/injection-ml/tokenizer.json models/injection-ml/config.json \
     /opt/wardgate/models/injection-ml/
COPY models/langid/lid.176.ftz /opt/wardgate/models/langid/
COPY models/pii-ner/model.int8.onnx models/pii-ner/tokenizer.json models/pii-ner/config.json \
     /opt/wardgate/models/pii-ner/
COPY policies/ /etc/wardgate/policies/
ENV PATH=/opt/wardgate/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    WARDGATE_LISTEN_HOST=0.0.0.0 \
    WARDGATE_CONFDIR=/var/lib/wardgate \
    WARDGATE_POLICY__DIR=/etc/wardgate/policies \
    WARDGATE_SCANNERS__INJECTION__MODEL=/opt/wardgate/models/injection \
    WARDGATE_SCANNERS__INJECTION__MULTILINGUAL=/opt/wardgate/models/injection-ml \
    WARDGATE_SCANNERS__INJECTION__LANGUAGE_MODEL=/opt/wardgate/models/langid/lid.176.ftz \
    WARDGATE_SCANNERS__PII__NER__MODEL=/opt/wardgate/models/pii-ner \
    WARDGATE_AUDIT__FILE=/var/log/wardgate/audit.jsonl
RUN mkdir -p /var/lib/wardgate /var/log/wardgate && chown ${WARDGATE_UID}:${WARDGATE_UID} /var/lib/wardgate /var/log/wardgate
USER ${WARDGATE_UID}:${WARDGATE_UID}
# 8080: the proxy; 8081: /healthz and /readyz for probes.
EXPOSE 8080 8081
HEALTHCHECK --interval=10s --timeout=2s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8081/readyz', timeout=1)"]
ENTRYPOINT ["wardgate", "run"]
CMD ["--config", "/etc/wardgate/wardgate.yaml"]

FROM runtime AS runtime-cuda
# onnxruntime and onnxruntime-gpu install the same module: swap one for the other, with CUDA and cuDNN from wheels.
USER root
RUN /opt/wardgate/bin/pip uninstall --yes onnxruntime \
    && /opt/wardgate/bin/pip install --no-cache-dir "onnxruntime-gpu[cuda,cudnn]==1.31.1"
# ONNX Runtime runs the int8 graph's matrix products only on the CPU: on a GPU the scanner serves the fp32 graph.
# (The multilingual model's CUDA graph is not committed: its int8 graph serves there too, on the CPU.)
COPY models/injection/model.onnx /opt/wardgate/models/injection/
USER ${WARDGATE_UID}:${WARDGATE_UID}
ENV WARDGATE_SCANNERS__INJECTION__DEVICE=auto
