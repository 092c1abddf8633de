# Installs every third-party peer the later steps use.
ensure_apt mosquitto mosquitto-clients curl ca-certificates
ensure_python_peers
ensure_node_peers
