# Installs every third-party peer the later steps use.
# python3-venv: the venv of the Python peers; coreutils: stdbuf (line-buffered mosquitto_sub);
# chromium and a font: the browser test (tests/tests/gateway_browser.rs).
ensure_apt mosquitto mosquitto-clients curl ca-certificates python3 python3-venv coreutils chromium fonts-dejavu-core
ensure_python_peers
ensure_node_peers
