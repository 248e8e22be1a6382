"""`.servicenow-sir`: ServiceNow SecOps security incidents, with observables (IPs, hashes, URLs)."""

from __future__ import annotations

import re

from connectors.schemas import Array, Object, OneOf, String
from connectors.types.case_management import comments_schema, sub_action_union
from connectors.types.servicenow import core
from connectors.types.servicenow.itsm import AdditionalFields, ServiceNowBase, common_incident_fields

OBSERVABLE_FIELDS = ("dest_ip", "source_ip", "malware_hash", "malware_url")
SPLIT = re.compile(r"[ ,|\r\n\t]+")


def _observable(label: str) -> OneOf:
    return OneOf([String(), Array(String())], nullable=True, default=None, label=label)


SIR_INCIDENT_FIELDS = {
    **common_incident_fields(),
    "dest_ip": _observable("Destination IPs"),
    "source_ip": _observable("Source IPs"),
    "malware_hash": _observable("Malware hashes"),
    "malware_url": _observable("Malware URLs"),
    "priority": String(nullable=True, default=None, label="Priority"),
}
SIR_INCIDENT = Object(
    {**SIR_INCIDENT_FIELDS, "additional_fields": AdditionalFields(tuple(SIR_INCIDENT_FIELDS))}
)
PUSH_PARAMS = Object({"incident": SIR_INCIDENT, "comments": comments_schema()})


def values_of(value) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else SPLIT.split(value)
    return [item for item in items if item]


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


class ServiceNowSecOpsConnector(ServiceNowBase):
    type_id = ".servicenow-sir"
    name = "ServiceNow SecOps"
    description = "Create a security incident in ServiceNow SecOps."
    icon = "securityApp"
    supported_feature_ids = ("alerting", "cases", "siem")  # 9.x adds "workflows"
    product = core.Product(
        table="sn_si_incident",
        import_set_table="x_elas2_sir_int_elastic_si_incident",
        app_scope="x_elas2_sir_int",
        use_import_api=True,
        comment_field="work_notes",
    )
    params_schema = sub_action_union(
        {
            "getFields": None,
            "getIncident": Object({"externalId": String()}),
            "handshake": None,
            "pushToService": PUSH_PARAMS,
            "getChoices": Object({"fields": Array(String())}),
        }
    )
    test_params_schema = Object(
        {"subAction": String(default="pushToService", widget="hidden"), "subActionParams": PUSH_PARAMS}
    )
    rule_params_schema = test_params_schema  # the admin rule editor asks for these inputs too

    def prepare_push(self, client, incident):
        incident = dict(incident)
        for field in OBSERVABLE_FIELDS:
            if client.use_table_api:  # the Table API takes one delimited string per field
                value = incident.get(field)
                incident[field] = ",".join(value) if isinstance(value, list) else value
            else:
                incident[field] = None
        return incident

    def after_push(self, client, incident, result):
        if client.use_table_api:
            return
        observables = [
            {"value": ip, "type": "ipv4-addr"}
            for ip in _unique(values_of(incident.get("dest_ip")) + values_of(incident.get("source_ip")))
        ]
        observables += [
            {"value": h, "type": "SHA256"} for h in _unique(values_of(incident.get("malware_hash")))
        ]
        observables += [{"value": u, "type": "URL"} for u in _unique(values_of(incident.get("malware_url")))]
        if observables:
            client.post(
                f"Unable to add observables to security incident with id {result['id']}",
                f"{client.url}/api/{self.product.app_scope}/elastic_api/incident/{result['id']}/observables/bulk",
                observables,
            )
