import os

from pyhandle.handleclient import PyHandleClient

client = PyHandleClient("rest").instantiate_with_username_and_password(
    "http://127.0.0.1:8800", "300:0.NA/88.100.1", os.environ["KEY"]
)
handle = client.register_handle("88.100.1/CNC-0100", "https://xm-machine.example.com/devices/CNC-0100")
client.modify_handle_value(handle, DESC="五轴加工中心 样机")
print(handle, client.get_value_from_handle(handle, "DESC"))
print(client.get_value_from_handle("88.100.1/CNC-0001", "serial"))
