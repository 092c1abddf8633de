//! Client sockets spread over loopback source addresses.
//!
//! Linux routes all of 127.0.0.0/8 to the loopback interface, so a client socket bound
//! to 127.a.b.c before `connect` talks to a server on 127.0.0.1 like any other. Each
//! source address has its own ~28k ephemeral ports (`ip_local_port_range`), so spreading
//! connections over addresses lifts the per-address port limit; several client
//! processes lift the 20,000 open files per process. A run starts at a random address
//! so that the TIME_WAIT sockets of the previous run do not hold its ports.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use tokio::net::{TcpSocket, TcpStream};

/// Source addresses for a run: connection `i` binds to `first + i / per_address`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sources {
    first: u32,
    per_address: u32,
}

impl Sources {
    /// Starts at a random address 127.r.s.2 (`r` in 1..=250), `per_address`
    /// connections on each.
    pub fn random(per_address: u32) -> Self {
        let r: u32 = rand::random::<u32>() % 250 + 1;
        let s: u32 = rand::random::<u32>() % 256;
        Self {
            first: u32::from(Ipv4Addr::new(127, r as u8, s as u8, 2)),
            per_address: per_address.max(1),
        }
    }

    /// Starts at `first`, `per_address` connections on each address.
    pub fn starting_at(first: Ipv4Addr, per_address: u32) -> Self {
        Self {
            first: u32::from(first),
            per_address: per_address.max(1),
        }
    }

    /// The first address.
    pub fn first(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.first)
    }

    /// Connections per address.
    pub fn per_address(&self) -> u32 {
        self.per_address
    }

    /// The source address of connection `index`.
    pub fn for_index(&self, index: u64) -> Ipv4Addr {
        let offset = (index / u64::from(self.per_address)) as u32;
        Ipv4Addr::from(self.first.wrapping_add(offset) | 0x7f00_0000)
    }
}

/// Opens a TCP connection to `server` from `source` (port chosen by the kernel), with
/// Nagle off.
pub async fn connect(server: SocketAddr, source: Ipv4Addr) -> io::Result<TcpStream> {
    connect_with(server, source, None).await
}

/// [`connect`], with the socket's send buffer pinned to `send_buffer` bytes (the
/// kernel doubles it) instead of Linux's autotuning, which grows a flooding
/// sender's buffer to `net.ipv4.tcp_wmem`'s maximum (4 MiB here).
pub async fn connect_with(
    server: SocketAddr,
    source: Ipv4Addr,
    send_buffer: Option<u32>,
) -> io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    if let Some(bytes) = send_buffer {
        socket.set_send_buffer_size(bytes)?;
    }
    if server.ip().is_loopback() {
        socket.bind(SocketAddr::V4(SocketAddrV4::new(source, 0)))?;
    }
    let stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_connections_over_addresses() {
        let s = Sources::starting_at(Ipv4Addr::new(127, 0, 0, 2), 2);
        assert_eq!(s.for_index(0), Ipv4Addr::new(127, 0, 0, 2));
        assert_eq!(s.for_index(1), Ipv4Addr::new(127, 0, 0, 2));
        assert_eq!(s.for_index(2), Ipv4Addr::new(127, 0, 0, 3));
        let r = Sources::random(1000);
        assert_eq!(r.first().octets()[0], 127);
        assert_eq!(r.for_index(1_000_000).octets()[0], 127);
    }
}
