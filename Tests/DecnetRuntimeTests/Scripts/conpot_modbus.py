"""Drives the conpot decky's Modbus/TCP server with pymodbus 3.x as an attacker would: reads of every table,
writes of a register and of coils read back, an out-of-range read, a unit nothing answers, and the device
identification. Prints one JSON object."""
import json
import sys

from pymodbus.client import ModbusTcpClient

host, port = sys.argv[1], int(sys.argv[2])
client = ModbusTcpClient(host, port=port, timeout=15, retries=0)
if not client.connect():
    sys.exit("no connection")
out = {}


out["holding"] = client.read_holding_registers(0, count=28, device_id=1).registers
out["input"] = client.read_input_registers(0, count=8, device_id=1).registers
out["coils"] = [bool(b) for b in client.read_coils(0, count=16, device_id=1).bits[:16]]
out["discrete"] = [bool(b) for b in client.read_discrete_inputs(0, count=16, device_id=1).bits[:16]]
out["write_register"] = not client.write_register(22, 4242, device_id=1).isError()
out["write_coils"] = not client.write_coils(8, [True, False, True], device_id=1).isError()
out["register_22"] = client.read_holding_registers(22, count=1, device_id=1).registers
out["coils_8"] = [bool(b) for b in client.read_coils(8, count=3, device_id=1).bits[:3]]
beyond = client.read_holding_registers(95, count=10, device_id=1)
out["beyond"] = beyond.exception_code if beyond.isError() else None
gateway = client.read_holding_registers(0, count=1, device_id=9)
out["gateway"] = gateway.exception_code if gateway.isError() else None
info = client.read_device_information(read_code=1, object_id=0, device_id=1)
out["device"] = {str(k): v.decode() for k, v in info.information.items()}
meter = client.read_input_registers(1, count=2, device_id=3).registers
out["meter_registers"] = meter
client.close()
print(json.dumps(out))
