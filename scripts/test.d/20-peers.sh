# Installs every third-party peer the later steps use.
# python3-venv: the venv of the Python peers; coreutils: stdbuf (line-buffered mosquitto_sub).
ensure_apt mosquitto mosquitto-clients curl ca-certificates python3 python3-venv coreutils
ensure_python_peers
ensure_node_peers
