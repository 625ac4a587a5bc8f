"""Actors by name, for lookups from outside the supervision tree (e.g. a REST handler)."""

from __future__ import annotations

from actors.actor import ActorRef


class Registry:
    """Name -> live `ActorRef`. A dead ref counts as absent everywhere: `lookup` does not return it,
    `register` does not report it as replaced, `names` and ``len`` skip it (and drop it)."""

    def __init__(self) -> None:
        self._refs: dict[str, ActorRef] = {}

    def register(self, name: str, ref: ActorRef) -> ActorRef | None:
        """Put ``ref`` under ``name``; return the live ref it replaced, if any. The caller decides
        what to do with the replaced one (typically: stop it)."""
        previous = self._refs.get(name)
        self._refs[name] = ref
        if previous is None or previous is ref or not previous.is_alive:
            return None
        return previous

    def lookup(self, name: str) -> ActorRef | None:
        """The live ref under ``name``; None if there is none or it has stopped."""
        ref = self._refs.get(name)
        if ref is None:
            return None
        if not ref.is_alive:
            del self._refs[name]
            return None
        return ref

    def unregister(self, name: str, ref: ActorRef | None = None) -> bool:
        """Remove ``name``; with ``ref``, only if ``name`` still maps to that ref, so that an actor
        cleaning up after itself does not remove its successor. True if something was removed."""
        current = self._refs.get(name)
        if current is None or (ref is not None and current is not ref):
            return False
        del self._refs[name]
        return True

    def names(self) -> list[str]:
        """Names with a live ref, in registration order."""
        self._prune()
        return list(self._refs)

    def __len__(self) -> int:
        self._prune()
        return len(self._refs)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.lookup(name) is not None

    def _prune(self) -> None:
        dead = [name for name, ref in self._refs.items() if not ref.is_alive]
        for name in dead:
            del self._refs[name]
