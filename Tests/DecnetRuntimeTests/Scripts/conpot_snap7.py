"""Drives the conpot decky's S7 CPU with python-snap7 3.x (pure Python): CPU and order-code identification,
a DB read, a DB write read back, the session password, and a PLC stop then hot start. Prints one JSON object."""
import json
import sys

import snap7

host, port, password = sys.argv[1], int(sys.argv[2]), sys.argv[3]
client = snap7.client.Client()
client.connect(host, 0, 2, tcp_port=port)
out = {}
info = client.get_cpu_info()
out["cpu"] = {
    "as_name": info.ASName.decode(),
    "module_name": info.ModuleName.decode(),
    "module_type": info.ModuleTypeName.decode(),
    "serial": info.SerialNumber.decode(),
    "copyright": info.Copyright.decode(),
}
order = client.get_order_code()
out["order_code"] = order.OrderCode.decode()
out["version"] = [order.V1, order.V2, order.V3]
out["db1"] = list(client.db_read(1, 0, 4))
client.db_write(1, 44, bytearray([0x12, 0x34]))
out["db1_44"] = list(client.db_read(1, 44, 2))
try:
    client.db_read(99, 0, 2)
    out["db99"] = "read"
except Exception as error:  # noqa: BLE001 - the CPU's refusal is what is reported
    out["db99"] = str(error)
try:
    client.plc_stop()
    out["stop_before_password"] = "stopped"
except Exception as error:  # noqa: BLE001
    out["stop_before_password"] = str(error)
client.set_session_password(password)
out["password"] = "accepted"
client.plc_stop()
out["stop"] = "stopped"
client.plc_hot_start()
out["start"] = "started"
out["blocks"] = client.list_blocks().DBCount
client.disconnect()
print(json.dumps(out))
