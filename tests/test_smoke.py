import pytest

pytestmark = pytest.mark.django_db


def test_demo_home_page_renders_loader(client, demo):
    response = client.get("/")
    assert response.status_code == 200
    assert b'id="wagtail-livechat"' in response.content
