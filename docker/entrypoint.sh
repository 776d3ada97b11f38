#!/usr/bin/env bash
# Entrypoint of the nag-spark images. The first argument says what the container is:
#   driver ...      Spark on Kubernetes, a driver pod (cluster mode): spark-submit in client
#                   mode inside the pod, as Spark's own images do.
#   executor        Spark on Kubernetes, an executor pod: the KubernetesExecutorBackend,
#                   configured from the SPARK_* variables the driver sets on the pod.
#   master [...]    a standalone master;  worker URL [...]  a standalone worker (with
#                   NAG_WORKER_GPUS=N it offers N GPUs found by the discovery script).
#   COMMAND ...     any program on PATH (bash, python3, ...), run as it is.
#   anything else   arguments of spark-submit: `docker run IMAGE jobs/extract.py ...`.
set -euo pipefail

SPARK_HOME="${SPARK_HOME:-$(python3 -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')}"
export SPARK_HOME
NAG_GPU_DISCOVERY="${NAG_GPU_DISCOVERY:-/opt/nag-spark/nag_spark/resources/gpu_discovery.py}"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"

java_opts() {
  # The driver passes executor JVM options as SPARK_JAVA_OPT_0, _1, ... in order.
  env | grep -E '^SPARK_JAVA_OPT_[0-9]+=' | sort -t_ -k4 -n | sed -E 's/^SPARK_JAVA_OPT_[0-9]+=//' || true
}

case "${1:-}" in
  driver)
    shift
    exec "$SPARK_HOME/bin/spark-submit" \
      --conf "spark.driver.bindAddress=${SPARK_DRIVER_BIND_ADDRESS:-0.0.0.0}" \
      --conf "spark.executorEnv.SPARK_DRIVER_POD_IP=${SPARK_DRIVER_BIND_ADDRESS:-0.0.0.0}" \
      --deploy-mode client "$@"
    ;;
  executor)
    shift
    mapfile -t OPTS < <(java_opts)
    CLASSPATH="${SPARK_CLASSPATH:+$SPARK_CLASSPATH:}$SPARK_HOME/jars/*"
    exec "$JAVA" "${OPTS[@]}" -Xms"${SPARK_EXECUTOR_MEMORY}" -Xmx"${SPARK_EXECUTOR_MEMORY}" \
      -cp "$CLASSPATH" org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend \
      --driver-url "$SPARK_DRIVER_URL" --executor-id "$SPARK_EXECUTOR_ID" \
      --cores "$SPARK_EXECUTOR_CORES" --app-id "$SPARK_APPLICATION_ID" \
      --hostname "$SPARK_EXECUTOR_POD_IP" \
      --resourceProfileId "${SPARK_RESOURCE_PROFILE_ID:-0}" \
      --podName "${SPARK_EXECUTOR_POD_NAME:-}"
    ;;
  master)
    shift
    exec "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master "$@"
    ;;
  worker)
    shift
    if [[ "${NAG_WORKER_GPUS:-0}" != "0" ]]; then
      export SPARK_WORKER_OPTS="${SPARK_WORKER_OPTS:-} -Dspark.worker.resource.gpu.amount=${NAG_WORKER_GPUS} -Dspark.worker.resource.gpu.discoveryScript=${NAG_GPU_DISCOVERY}"
    fi
    exec "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker "$@"
    ;;
  "")
    exec "$SPARK_HOME/bin/spark-submit" --help
    ;;
  *)
    if [[ "$1" != *.py ]] && command -v "$1" >/dev/null 2>&1; then
      exec "$@"
    fi
    exec "$SPARK_HOME/bin/spark-submit" "$@"
    ;;
esac
