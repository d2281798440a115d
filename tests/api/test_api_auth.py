"""API keys over HTTP and through the CLI, and the IMAGE_SERVICE_AUTH=none mode."""

from __future__ import annotations

import httpx
import pytest
from api_helpers import assert_error, b64, png, post_image, unique
from api_server import Server

pytestmark = pytest.mark.api


def upload_with(server: Server, headers: dict[str, str]) -> httpx.Response:
    with httpx.Client(base_url=server.base_url, headers=headers) as client:
        return post_image(client)


def test_bearer_and_x_api_key_both_work(server: Server, alice_key: str) -> None:
    for headers in (
        {"Authorization": f"Bearer {alice_key}"},
        {"authorization": f"bearer {alice_key}"},
        {"x-api-key": alice_key},
    ):
        response = upload_with(server, headers)
        assert response.status_code == 201, (headers, response.text)
        assert response.json()["metadata"]["user_id"] == "alice"


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer isk_000000000000_nope"},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic YWxpY2U6c2VjcmV0"},
        {"x-api-key": "nope"},
        {},
    ],
    ids=["wrong-bearer", "empty-bearer", "basic", "wrong-x-api-key", "none"],
)
def test_writes_without_a_valid_key_are_401(server: Server, headers: dict[str, str]) -> None:
    response = upload_with(server, headers)
    assert_error(response, 401)
    assert response.headers.get("www-authenticate", "").lower().startswith("bearer")


def test_a_wrong_key_is_401_on_reads_too(server: Server) -> None:
    with httpx.Client(base_url=server.base_url, headers={"x-api-key": "isk_0_wrong"}) as client:
        assert_error(client.get("/images"), 401)


def test_reads_of_public_images_need_no_key(anon: httpx.Client, alice: httpx.Client) -> None:
    meta = alice.post("/images", json={"image_data": b64(png())}).json()["metadata"]
    assert anon.get("/images", params={"user_id": "alice", "limit": 1}).status_code == 200
    assert anon.get(f"/images/{meta['image_id']}").status_code == 200
    assert anon.get(f"/images/{meta['image_id']}/content").status_code == 200


def test_revoked_key_is_401(server: Server) -> None:
    user = unique("carol")
    key = server.create_key(user)
    assert upload_with(server, {"x-api-key": key}).status_code == 201
    key_id = key.split("_")[1]
    listed = server.cli("keys", "list")
    assert listed.returncode == 0 and key_id in listed.stdout
    revoked = server.cli("keys", "revoke", key_id)
    assert revoked.returncode == 0, revoked.stderr
    assert_error(upload_with(server, {"x-api-key": key}), 401)
    assert_error(upload_with(server, {"Authorization": f"Bearer {key}"}), 401)
    with httpx.Client(base_url=server.base_url, headers={"x-api-key": key}) as client:
        assert_error(client.get("/images"), 401)


def test_revoking_an_unknown_key_fails(server: Server) -> None:
    result = server.cli("keys", "revoke", "000000000000")
    assert result.returncode != 0


def test_admin_key_from_the_first_start(server: Server, admin_key: str) -> None:
    # The bootstrap key is the last line of stdout and it is an admin key.
    assert server.stdout().strip().splitlines()[-1] == admin_key
    response = upload_with(server, {"x-api-key": admin_key})
    assert response.status_code == 201


def test_keys_list_never_prints_a_secret(
    server: Server, admin_key: str, alice_key: str, bob_key: str
) -> None:
    result = server.cli("keys", "list")
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    for key in (admin_key, alice_key, bob_key):
        assert key not in output
        secret = key.split("_", 2)[2]
        assert secret not in output
        assert key.split("_")[1] in output  # the key id is what identifies a key
    assert "isk_" not in output
    assert "alice" in output and "bob" in output


def test_keys_create_prints_the_key_as_the_last_line(server: Server) -> None:
    result = server.cli("keys", "create", "--user", unique("erin"))
    assert result.returncode == 0
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("isk_")
    assert key.split("_")[1] in result.stderr + result.stdout


# -- IMAGE_SERVICE_AUTH=none ------------------------------------------------------------------


def test_auth_none_server_warned_at_start(open_server: Server) -> None:
    err = open_server.stderr()
    assert "IMAGE_SERVICE_AUTH=none" in err
    assert "trusted networks" in err
    assert "isk_" not in open_server.stdout()


def test_auth_none_upload_takes_the_owner_from_the_body(open_server: Server) -> None:
    user = unique("frank")
    with httpx.Client(base_url=open_server.base_url) as client:
        response = client.post(
            "/images", json={"image_data": b64(png()), "user_id": user, "visibility": "private"}
        )
        assert response.status_code == 201, response.text
        meta = response.json()["metadata"]
        assert meta["user_id"] == user
        multipart = client.post(
            "/images", files={"file": ("a.png", png(), "image/png")}, data={"user_id": user}
        )
        assert multipart.status_code == 201, multipart.text
        assert multipart.json()["metadata"]["user_id"] == user
        # Reads still follow visibility for the user the caller declares.
        assert_error(client.get(f"/images/{meta['image_id']}"), 404)
        assert client.get(f"/images/{meta['image_id']}", params={"user_id": user}).status_code == 200
        assert client.get(f"/images/{meta['image_id']}", headers={"x-user-id": user}).status_code == 200


def test_auth_none_upload_without_a_user_belongs_to_anonymous(open_server: Server) -> None:
    """Older clients know no users (API.md, Identity): their uploads belong to `anonymous`."""
    with httpx.Client(base_url=open_server.base_url) as client:
        for response in (
            client.post("/images", json={"image_data": b64(png())}),
            client.post("/images", files={"file": ("a.png", png(), "image/png")}),
            client.post("/upload", files={"file": ("b.png", png(), "image/png")}),
        ):
            assert response.status_code == 201, response.text
            assert response.json()["metadata"]["user_id"] == "anonymous"
        assert_error(client.post("/images", json={"image_data": b64(png()), "user_id": "a/b"}), 400)


def test_an_anonymous_upload_is_401_before_its_body_is_looked_at(anon: httpx.Client) -> None:
    for content, content_type in ((b"{not json", "application/json"), (b"--x\r\n", "multipart/form-data")):
        assert_error(anon.post("/images", content=content, headers={"Content-Type": content_type}), 401)
