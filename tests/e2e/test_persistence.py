"""State survives a crash: whatever a successful response acknowledged is there
after `kill -9` and a restart on the same data dir. And SIGTERM stops cleanly."""

from __future__ import annotations

from e2e_support import ACCOUNT_ID, ROOT, Creds, allow, policy_doc, user_arn


def test_state_survives_kill_9(start_server, tmp_path):
    data = tmp_path / "data"
    first = start_server(data)
    iam = first.client("iam")
    iam.create_user(UserName="durable")
    key = Creds.from_access_key(iam.create_access_key(UserName="durable")["AccessKey"])
    iam.put_user_policy(UserName="durable", PolicyName="list", PolicyDocument=policy_doc(allow("iam:ListUsers")))
    role = iam.create_role(
        RoleName="DurableRole",
        AssumeRolePolicyDocument=policy_doc(
            {"Effect": "Allow", "Principal": {"AWS": user_arn("durable")}, "Action": "sts:AssumeRole"}
        ),
    )["Role"]["Arn"]
    session = Creds.from_sts(
        first.client("sts", key).assume_role(RoleArn=role, RoleSessionName="before-crash")["Credentials"]
    )
    # The last acknowledged write, then no chance to flush anything.
    iam.create_user(UserName="last-write")
    first.kill9()
    assert not first.running()

    second = start_server(data)
    assert second.port  # a fresh port, announced again
    root = second.client("iam")
    names = {u["UserName"] for u in root.list_users()["Users"]}
    assert {"durable", "last-write"} <= names
    assert root.get_user(UserName="durable")["User"]["Arn"] == user_arn("durable")
    assert [k["AccessKeyId"] for k in root.list_access_keys(UserName="durable")["AccessKeyMetadata"]] == [key.access_key_id]

    # The user's key signs, and its policy still decides.
    assert second.client("sts", key).get_caller_identity()["Arn"] == user_arn("durable")
    second.client("iam", key).list_users()
    code = None
    try:
        second.client("iam", key).list_roles()
    except Exception as e:  # noqa: BLE001 - we want the AWS code
        code = e.response["Error"]["Code"]
    assert code == "AccessDenied"

    # A session issued before the crash is still valid.
    me = second.client("sts", session).get_caller_identity()
    assert me["Arn"] == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/DurableRole/before-crash"

    # Root credentials come from the store now, not re-bootstrapped.
    assert second.client("sts", ROOT).get_caller_identity()["Account"] == ACCOUNT_ID
    assert second.stop() == 0, second.log_tail()


def test_restart_after_clean_stop_and_bootstrap_is_once(start_server, tmp_path):
    """A second start with other root credentials in the environment does not replace
    the stored ones (they are created at first start only)."""
    data = tmp_path / "data"
    first = start_server(data)
    first.client("iam").create_user(UserName="kept")
    assert first.stop() == 0, first.log_tail()

    second = start_server(
        data,
        {"SESAME_ROOT_ACCESS_KEY_ID": "AKIAE2EOTHERROOT0001", "SESAME_ROOT_SECRET_ACCESS_KEY": "other-secret"},
    )
    assert second.client("iam").get_user(UserName="kept")["User"]["UserName"] == "kept"
    try:
        second.client("sts", Creds("AKIAE2EOTHERROOT0001", "other-secret")).get_caller_identity()
        other_works = True
    except Exception:  # noqa: BLE001
        other_works = False
    assert not other_works, "a restart must not add root keys from the environment"
    assert second.stop() == 0, second.log_tail()
