//! Connects to the database server directly, around the host.
use wasmig_guest::{Db, Error, Result};

fn up(db: &Db) -> Result<()> {
    match std::net::TcpStream::connect("127.0.0.1:5432") {
        Ok(_) => hostile::keep(db, "connected"),
        Err(e) => Err(Error::msg(format!("could not connect: {e}"))),
    }
}

wasmig_guest::migration!(up);
