from tests.api import Api, World, expect


async def test_me(api: Api) -> None:
    body = expect(await api.get(api.admin, "/me"), 200)
    assert body["role"] == "admin"


async def test_world(world: World) -> None:
    problem = await world.api.problem(world.facilitator, world.gpo)
    assert problem["status"] == "new"
