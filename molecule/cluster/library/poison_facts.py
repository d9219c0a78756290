#!/usr/bin/python
# -*- coding: utf-8 -*-
# TEST ONLY: returns a default IPv4 "address" fact holding config-injection text, as a
# compromised or broken host could report, to prove the roles refuse it.
from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec={"address": {"type": "str", "required": True}})
    module.exit_json(changed=False, ansible_facts={"default_ipv4": {"address": module.params["address"]}})


if __name__ == "__main__":
    main()
