import concurrent.futures
import time

from wardgate.pipeline.vault import Vault, VaultStore


def test_same_value_same_placeholder_and_restore_only_what_it_issued():
    vault = Vault()
    assert vault.placeholder("PERSON", "Ann") == "<PERSON_1>"
    assert vault.placeholder("PERSON", "Bob") == "<PERSON_2>"
    assert vault.placeholder("PERSON", "Ann") == "<PERSON_1>"
    assert vault.placeholder("EMAIL_ADDRESS", "a@x.io") == "<EMAIL_ADDRESS_1>"
    text = "<PERSON_2> met <PERSON_1> (<EMAIL_ADDRESS_1>), not <PERSON_3> or <person_1>"
    assert vault.restore(text) == "Bob met Ann (a@x.io), not <PERSON_3> or <person_1>"


def test_concurrent_use_never_hands_one_placeholder_to_two_values():
    vault = Vault()
    values = [f"name-{i}" for i in range(200)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        placeholders = list(pool.map(lambda v: vault.placeholder("PERSON", v), values * 3))
    assert len(set(placeholders)) == 200
    assert [vault.restore(p) for p in placeholders] == values * 3


def test_conversations_are_per_owner_and_expire():
    store = VaultStore(ttl=0.2, max_conversations=10)
    alice = store.vault(("t1", "alice"), "conv-1")
    alice.placeholder("PERSON", "Ann")
    assert store.vault(("t1", "alice"), "conv-1") is alice
    assert store.vault(("t1", "mallory"), "conv-1") is not alice  # the same id from another caller
    assert store.vault(("t2", "alice"), "conv-1") is not alice
    time.sleep(0.3)
    assert len(store.vault(("t1", "alice"), "conv-1")) == 0
