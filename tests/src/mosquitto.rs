//! The Mosquitto broker (Debian `mosquitto`) on a free loopback port, for the
//! differential tests: the same scenario runs against it and against
//! realtime-server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, require_peer};

/// A Mosquitto process with a generated minimal configuration; killed on drop.
pub struct MosquittoBroker {
    child: Child,
    dir: PathBuf,
    /// Its MQTT listener.
    pub addr: SocketAddr,
}

impl MosquittoBroker {
    /// Starts `mosquitto` with `listener <port> 127.0.0.1`, anonymous access,
    /// persistence off, plus the `extra` configuration lines; waits until it listens.
    pub fn start(extra: &[&str]) -> Self {
        let program = require_peer("mosquitto", "apt-get install mosquitto");
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("realtime-mosquitto-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut config = format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
             log_dest stderr\nlog_type error\nlog_type warning\n"
        );
        for line in extra {
            config.push_str(line);
            config.push('\n');
        }
        let conf = dir.join("mosquitto.conf");
        std::fs::write(&conf, config).unwrap();
        let child = Command::new(program)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start mosquitto");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let broker = Self { child, dir, addr };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen on {addr}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        broker
    }
}

impl Drop for MosquittoBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
