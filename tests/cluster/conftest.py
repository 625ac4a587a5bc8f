from tests.server_fixtures import server, server_on_each_db, start_server

__all__ = ["server", "server_on_each_db", "start_server"]
