/* Device forms (add, edit): show the connection fields of the chosen protocol only.
 * "From the model" means the protocol the chosen model suggests (its option's
 * data-protocol). Hidden groups are disabled too, so what they hold is not sent; without
 * this script every group shows and the server reads the chosen protocol's fields only. */
(function () {
  "use strict";
  function wire(form) {
    var protocol = form.querySelector("select[data-protocol]");
    var model = form.querySelector("select[data-model]");
    var fixed = form.getAttribute("data-default-protocol") || "";
    function chosen() {
      if (protocol && protocol.value) { return protocol.value; }
      if (model && model.selectedOptions.length) {
        return model.selectedOptions[0].getAttribute("data-protocol") || "";
      }
      return fixed;
    }
    function update() {
      var current = chosen();
      form.querySelectorAll("fieldset.protocol-fields").forEach(function (group) {
        var on = group.getAttribute("data-for") === current;
        group.hidden = !on;
        group.disabled = !on;
      });
    }
    if (protocol) { protocol.addEventListener("change", update); }
    if (model) { model.addEventListener("change", update); }
    update();
  }
  document.querySelectorAll("form[data-protocol-form]").forEach(wire);
})();
