from tests.server_fixtures import server, start_server

__all__ = ["server", "start_server"]
