#!/usr/bin/python
# -*- coding: utf-8 -*-
# TEST ONLY: reports the facts it is given (for example a default IPv4 "address" holding
# config-injection text, as a compromised or broken host could report, or another
# distribution), to prove the roles refuse them.
from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec={"facts": {"type": "dict", "required": True}})
    module.exit_json(changed=False, ansible_facts=module.params["facts"])


if __name__ == "__main__":
    main()
